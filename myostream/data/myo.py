"""Côté-Allard Myo armband dataset (``classe_<i>.dat``) read into :class:`Recording`.

Each file is one held gesture recorded by a Thalmic Myo: raw int16 samples, 8 channels
interleaved, 200 Hz (from the ``myo-armband-dataset`` profile). File ``classe_<i>.dat``
holds class ``i % 7`` of cycle ``i // 7``, kept as repetition ``i // 7 + 1``. Layout::

    PreTrainingDataset/<Subject>/training0/classe_<i>.dat          one session per subject
    EvaluationDataset/<Subject>/{training0,Test0,Test1}/classe_<i>.dat

The two parts hold different people under the same folder names (``Female0`` ...), so
they are different datasets: ``myo-armband-pretraining`` and ``myo-armband-evaluation``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording, concatenate
from myostream.stream.devices import load_profile

#: Class id of file class ``i % 7`` (dataset order: neutral, radial deviation, wrist
#: flexion, ulnar deviation, wrist extension, hand close, hand open).
MYO_CLASSES: tuple[str, ...] = (
    "rest",
    "radial_deviation",
    "wrist_flexion",
    "ulnar_deviation",
    "wrist_extension",
    "fist",
    "open_hand",
)
_FILE_NAME = re.compile(r"^classe_(\d+)\.dat$")
_PARTS = {"PreTrainingDataset": "myo-armband-pretraining", "EvaluationDataset": "myo-armband-evaluation"}


def read_myo_dat(path: str | Path, nonfinite: NonFinite = "error") -> Recording:
    """Read one ``classe_<i>.dat`` file (subject and session from its folders)."""
    path = Path(path)
    if not path.is_file():
        raise MyostreamError(f"Myo armband file {str(path)!r} does not exist.")
    m = _FILE_NAME.match(path.name)
    if not m:
        raise MyostreamError(f"Myo armband file {str(path)!r} is not named classe_<i>.dat, so its gesture is unknown.")
    index = int(m.group(1))
    raw = np.fromfile(path, dtype="<i2")
    profile = load_profile("myo-armband-dataset")
    c = profile.n_channels
    if raw.size == 0 or raw.size % c:
        raise MyostreamError(
            f"Myo armband file {str(path)!r} holds {raw.size} int16 values, not a whole number of "
            f"{c}-channel samples; the file is truncated or not a Myo recording."
        )
    emg = raw.reshape(-1, c).astype(np.float32)
    n = len(emg)
    return Recording(
        emg=emg,
        rate=profile.rate,
        labels=np.full(n, index % len(MYO_CLASSES), np.int16),
        label_names=MYO_CLASSES,
        channel_names=profile.channel_names,
        subject=path.parent.parent.name,
        session=path.parent.name,
        exercise="armband",
        dataset=_PARTS.get(path.parent.parent.parent.name, "myo-armband"),
        unit=profile.unit,
        repetition=np.full(n, index // len(MYO_CLASSES) + 1, np.int16),
        source=str(path),
        meta={"file_index": index},
        nonfinite=nonfinite,
    )


def _files(folder: Path) -> list[tuple[str, str, str, int, Path]]:
    found = []
    for path in folder.rglob("classe_*.dat"):
        m = _FILE_NAME.match(path.name)
        if m:
            found.append(
                (path.parent.parent.parent.name, path.parent.parent.name, path.parent.name, int(m.group(1)), path)
            )
    return sorted(found)


def read_myo_folder(
    folder: str | Path,
    subjects: Iterable[str] | None = None,
    sessions: Iterable[str] | None = None,
    nonfinite: NonFinite = "error",
) -> list[Recording]:
    """Every gesture file under ``folder`` (the dataset root, one part, a subject or a session).

    One recording per file, sorted by part, subject, session and file index;
    ``subjects`` (``"Female0"``) and ``sessions`` (``"Test0"``) select by folder name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"Myo armband folder {str(folder)!r} does not exist.")
    found = _files(folder)
    if not found:
        raise MyostreamError(f"Myo armband folder {str(folder)!r} holds no classe_<i>.dat files.")
    want_subjects = None if subjects is None else set(subjects)
    want_sessions = None if sessions is None else set(sessions)
    chosen = [
        f
        for f in found
        if (want_subjects is None or f[1] in want_subjects) and (want_sessions is None or f[2] in want_sessions)
    ]
    if not chosen:
        raise MyostreamError(
            f"Myo armband folder {str(folder)!r} has no files for subjects {sorted(want_subjects or [])} "
            f"sessions {sorted(want_sessions or [])}; it holds subjects {sorted({f[1] for f in found})}."
        )
    files = tqdm([f[-1] for f in chosen], desc="Myo armband files", unit="file", disable=None, leave=False)
    return [read_myo_dat(path, nonfinite) for path in files]


def read_myo_session(folder: str | Path, nonfinite: NonFinite = "error") -> Recording:
    """A session folder's gesture files played back to back in file order (for replay)."""
    folder = Path(folder)
    recordings = read_myo_folder(folder, nonfinite=nonfinite)
    sessions = {(r.dataset, r.subject, r.session) for r in recordings}
    if len(sessions) > 1:
        raise MyostreamError(
            f"Myo armband folder {str(folder)!r} holds {len(sessions)} sessions; give one session folder "
            "(e.g. EvaluationDataset/Male0/Test0) to play it as one stream."
        )
    return concatenate(recordings, source=str(folder))
