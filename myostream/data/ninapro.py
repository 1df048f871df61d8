"""NinaPro ``.mat`` files (DB1, DB2, DB3, DB5, DB7) read into :class:`Recording`.

The files do not store their sampling rate: it comes from the database's device profile
(``devices/ninapro-db*.toml``). Labels are mapped to one global movement vocabulary:
``rest`` plus ``ninapro.A01``..``A12`` (exercise A, finger movements), ``B01``..``B17``
(hand postures and wrist movements), ``C01``..``C23`` (grasps and functional movements)
and ``D01``..``D09`` (force patterns), numbered in the order of the NinaPro papers.

Databases number their labels in one of two ways (:data:`DATABASES`):

- per exercise: every exercise file restarts at 1 (DB1; DB5, whose files hold E1 1-12,
  E2 1-17, E3 1-23 and whose ``exercise`` variable disagrees with the file name, so the
  exercise is taken from the name);
- continuous: one numbering across files (DB2/DB3: E1 1-17, E2 18-40, E3 41-49;
  DB7: E1 1-17, E2 18-40).

A file is read with its database's documented numbering when all its labels fit it, else
with the other one; DB2/DB3 force files (exercise D) also accept the raw codes
1, 2, 4, 6, 8, 9, 16, 32, 40 that some DB2 releases carry (D01..D09 in that order).
Labels that fit no numbering are an error, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording, default_channel_names
from myostream.stream.devices import load_profile

#: Movements per NinaPro exercise, by exercise letter.
EXERCISE_SIZES: dict[str, int] = {"A": 12, "B": 17, "C": 23, "D": 9}


@dataclass(frozen=True)
class Database:
    """How one NinaPro database lays out its exercise files."""

    exercises: tuple[str, ...]  # exercise letter of file E1, E2, ...
    numbering: Literal["per-exercise", "continuous"]  # documented label numbering


#: The one table from database labels to global movements (see the module docstring).
DATABASES: dict[str, Database] = {
    "db1": Database(("A", "B", "C"), "per-exercise"),
    "db2": Database(("B", "C", "D"), "continuous"),
    "db3": Database(("B", "C", "D"), "continuous"),
    "db5": Database(("A", "B", "C"), "per-exercise"),
    "db7": Database(("B", "C"), "continuous"),
}

#: Raw codes of the nine force patterns in some DB2/DB3 exercise-3 files, in D01..D09 order.
FORCE_CODES: tuple[int, ...] = (1, 2, 4, 6, 8, 9, 16, 32, 40)

#: Short English name of every NinaPro movement, by class id (Atzori et al., Sci. Data 2014).
MOVEMENT_NAMES: dict[str, str] = {
    "rest": "rest",
    # Exercise A: basic movements of the fingers
    "ninapro.A01": "index finger flexion",
    "ninapro.A02": "index finger extension",
    "ninapro.A03": "middle finger flexion",
    "ninapro.A04": "middle finger extension",
    "ninapro.A05": "ring finger flexion",
    "ninapro.A06": "ring finger extension",
    "ninapro.A07": "little finger flexion",
    "ninapro.A08": "little finger extension",
    "ninapro.A09": "thumb adduction",
    "ninapro.A10": "thumb abduction",
    "ninapro.A11": "thumb flexion",
    "ninapro.A12": "thumb extension",
    # Exercise B: isometric, isotonic hand configurations and basic wrist movements
    "ninapro.B01": "thumb up",
    "ninapro.B02": "extension of index and middle fingers, flexion of the others",
    "ninapro.B03": "flexion of ring and little fingers, extension of the others",
    "ninapro.B04": "thumb opposing base of little finger",
    "ninapro.B05": "abduction of all fingers",
    "ninapro.B06": "fingers flexed together in a fist",
    "ninapro.B07": "pointing index",
    "ninapro.B08": "adduction of extended fingers",
    "ninapro.B09": "wrist supination (axis: middle finger)",
    "ninapro.B10": "wrist pronation (axis: middle finger)",
    "ninapro.B11": "wrist supination (axis: little finger)",
    "ninapro.B12": "wrist pronation (axis: little finger)",
    "ninapro.B13": "wrist flexion",
    "ninapro.B14": "wrist extension",
    "ninapro.B15": "wrist radial deviation",
    "ninapro.B16": "wrist ulnar deviation",
    "ninapro.B17": "wrist extension with closed hand",
    # Exercise C: grasping and functional movements
    "ninapro.C01": "large diameter grasp",
    "ninapro.C02": "small diameter grasp (power grip)",
    "ninapro.C03": "fixed hook grasp",
    "ninapro.C04": "index finger extension grasp",
    "ninapro.C05": "medium wrap",
    "ninapro.C06": "ring grasp",
    "ninapro.C07": "prismatic four fingers grasp",
    "ninapro.C08": "stick grasp",
    "ninapro.C09": "writing tripod grasp",
    "ninapro.C10": "power sphere grasp",
    "ninapro.C11": "three finger sphere grasp",
    "ninapro.C12": "precision sphere grasp",
    "ninapro.C13": "tripod grasp",
    "ninapro.C14": "prismatic pinch grasp",
    "ninapro.C15": "tip pinch grasp",
    "ninapro.C16": "quadpod grasp",
    "ninapro.C17": "lateral grasp",
    "ninapro.C18": "parallel extension grasp",
    "ninapro.C19": "extension type grasp",
    "ninapro.C20": "power disk grasp",
    "ninapro.C21": "open a bottle with a tripod grasp",
    "ninapro.C22": "turn a screw (screwdriver held with a stick grasp)",
    "ninapro.C23": "cut something (knife held with an index finger extension grasp)",
    # Exercise D: force patterns
    "ninapro.D01": "little finger flexion (force)",
    "ninapro.D02": "ring finger flexion (force)",
    "ninapro.D03": "middle finger flexion (force)",
    "ninapro.D04": "index finger flexion (force)",
    "ninapro.D05": "thumb abduction (force)",
    "ninapro.D06": "thumb flexion (force)",
    "ninapro.D07": "index and little finger flexion (force)",
    "ninapro.D08": "ring and middle finger flexion (force)",
    "ninapro.D09": "index finger and thumb flexion (force)",
}

LabelSource = Literal["restimulus", "stimulus"]
_REPETITION_OF = {"restimulus": "rerepetition", "stimulus": "repetition"}
# DB1 names files S1_A1_E1.mat, DB2/DB5/DB7 S1_E1_A1.mat
_FILE_NAME = re.compile(r"^S(\d+)_(?:A\d+_)?E(\d+)(?:_A\d+)?\.mat$", re.IGNORECASE)
_DB1_NAME = re.compile(r"^S\d+_A\d+_E\d+\.mat$", re.IGNORECASE)
_OTHER_NAME = re.compile(r"^S\d+_E\d+_A\d+\.mat$", re.IGNORECASE)
_DB_TOKEN = re.compile(r"(?:^|[^a-z])db(\d+)(?:[^0-9]|$)", re.IGNORECASE)
_VARIABLES = ("emg", "glove", "stimulus", "restimulus", "repetition", "rerepetition", "subject", "exercise")


def exercise_ids(letter: str) -> tuple[str, ...]:
    """``("ninapro.A01", ..., "ninapro.A12")`` for exercise ``"A"``."""
    return tuple(f"ninapro.{letter}{i:02d}" for i in range(1, EXERCISE_SIZES[letter] + 1))


def numberings(database: str, exercise: int) -> list[tuple[str, dict[int, str]]]:
    """Candidate raw label -> class id maps of one exercise file, documented one first."""
    db = DATABASES[_database_key(database)]
    if not 1 <= exercise <= len(db.exercises):
        raise MyostreamError(f"NinaPro {database.upper()} has exercises E1-E{len(db.exercises)}, not E{exercise}.")
    letter = db.exercises[exercise - 1]
    ids = exercise_ids(letter)
    offset = sum(EXERCISE_SIZES[x] for x in db.exercises[: exercise - 1])
    per_exercise = ("per-exercise", {i + 1: c for i, c in enumerate(ids)})
    continuous = ("continuous", {offset + i + 1: c for i, c in enumerate(ids)})
    found = [per_exercise, continuous] if db.numbering == "per-exercise" else [continuous, per_exercise]
    if letter == "D":
        found.insert(1, ("force codes", dict(zip(FORCE_CODES, ids))))
    return found


def _database_key(name: str) -> str:
    """``"db2"`` for ``"DB2"``, ``"ninapro-db2"`` ...; unknown names are an error."""
    key = name.lower().removeprefix("ninapro-")
    if key not in DATABASES:
        raise MyostreamError(f"Unknown NinaPro database {name!r}; use one of {', '.join(DATABASES)}.")
    return key


def infer_database(path: Path, n_channels: int | None = None) -> str | None:
    """The database a file belongs to, from a ``db<N>`` token in its path, else its width.

    Only DB1 (10 electrodes) and DB5 (16) are told apart by width; DB2, DB3 and DB7
    all have 12 and need the token or an explicit ``database``.
    """
    for part in reversed(path.parts):
        m = _DB_TOKEN.search(part)
        if m and f"db{int(m.group(1))}" in DATABASES:
            return f"db{int(m.group(1))}"
    return {10: "db1", 16: "db5"}.get(n_channels) if n_channels else None


def _load_mat(path: Path) -> dict[str, np.ndarray]:
    """The variables of a MATLAB file, v5 (scipy) or v7.3 (HDF5, read with h5py)."""
    import h5py
    import scipy.io

    if not path.is_file():
        raise MyostreamError(f"NinaPro file {str(path)!r} does not exist.")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                # MATLAB stores arrays column-major: HDF5 sees them transposed.
                return {k: np.asarray(f[k][()]).T for k in _VARIABLES if k in f and isinstance(f[k], h5py.Dataset)}
        return scipy.io.loadmat(path, variable_names=_VARIABLES)
    except Exception as exc:  # scipy/h5py raise many types for damaged files
        raise MyostreamError(f"NinaPro file {str(path)!r} is not a readable MATLAB file ({exc}).") from None


def read_ninapro(
    path: str | Path,
    database: str | None = None,
    labels: LabelSource = "restimulus",
    nonfinite: NonFinite = "error",
) -> Recording:
    """Read one NinaPro exercise file.

    ``labels="restimulus"`` (default) uses the relabelled movement boundaries and
    ``rerepetition``; ``"stimulus"`` the cue timing and ``repetition``. ``nonfinite``:
    what to do with NaN samples (see :class:`Recording`).
    """
    path = Path(path)
    if labels not in _REPETITION_OF:
        raise MyostreamError(f"labels must be 'restimulus' or 'stimulus', not {labels!r}.")
    mat = _load_mat(path)
    where = f"NinaPro file {str(path)!r}"
    if "emg" not in mat:
        raise MyostreamError(f"{where} has no 'emg' variable; it is not a NinaPro recording.")
    emg = np.asarray(mat["emg"])
    if emg.ndim != 2 or emg.shape[0] == 0:
        raise MyostreamError(f"{where}: 'emg' has shape {emg.shape}; expected [samples, electrodes].")
    n = emg.shape[0]
    if labels not in mat:
        raise MyostreamError(f"{where} has no {labels!r} variable; read it with labels='stimulus' or 'restimulus'.")
    raw = _column(mat[labels], n, labels, where)

    db_key = _database_key(database) if database else infer_database(path, emg.shape[1])
    if db_key is None:
        raise MyostreamError(
            f"{where}: cannot tell which NinaPro database it belongs to ({emg.shape[1]} electrodes); "
            f"pass database= one of {', '.join(DATABASES)} (CLI: --database)."
        )
    profile = load_profile(f"ninapro-{db_key}")
    _check_database(path, emg.shape[1], db_key, profile.n_channels, where)
    subject, exercise = _subject_and_exercise(path, mat, where)
    numbering, table = _pick_numbering(raw, db_key, exercise, where)
    letter = DATABASES[db_key].exercises[exercise - 1]
    label_names = ("rest", *exercise_ids(letter))
    lut = np.full(int(raw.max()) + 1, -1, np.int16)
    lut[0] = 0
    for code, class_id in table.items():
        if code < len(lut):
            lut[code] = label_names.index(class_id)
    rep_name = _REPETITION_OF[labels]
    repetition = _column(mat[rep_name], n, rep_name, where).astype(np.int16) if rep_name in mat else None
    glove = np.asarray(mat["glove"], np.float32) if "glove" in mat else None
    if glove is not None and glove.shape[0] != n:
        raise MyostreamError(f"{where}: 'glove' has {glove.shape[0]} samples but 'emg' has {n}; lengths must match.")

    names = profile.channel_names if emg.shape[1] == profile.n_channels else default_channel_names(emg.shape[1])
    return Recording(
        emg=np.ascontiguousarray(emg, dtype=np.float32),
        rate=profile.rate,
        labels=lut[raw],
        label_names=label_names,
        channel_names=names,
        subject=f"S{subject}",
        session="1",
        exercise=letter,
        dataset=f"ninapro-{db_key}",
        unit=profile.unit,
        repetition=repetition,
        glove=glove,
        source=str(path),
        meta={"file_exercise": exercise, "label_variable": labels, "numbering": numbering},
        nonfinite=nonfinite,
    )


def _check_database(path: Path, n_electrodes: int, database: str, expected: int, where: str) -> None:
    """Refuse a file that cannot come from ``database``: the files do not store their rate, so
    a DB1 file (100 Hz) read as DB2 (2 kHz) would replay 20 times too fast without a word."""
    db1_name = _DB1_NAME.match(path.name) is not None
    other_name = _OTHER_NAME.match(path.name) is not None
    said = f"read as NinaPro {database.upper()}"
    if (db1_name and database != "db1") or (other_name and database == "db1"):
        layout = "S<subject>_A1_E<exercise>.mat (DB1)" if db1_name else "S<subject>_E<exercise>_A1.mat (DB2/3/5/7)"
        raise MyostreamError(
            f"{where} is named like {layout} but was {said}; give the database it comes from (--database)."
        )
    # DB3 amputee subjects have fewer electrodes; no database has more than its profile.
    if n_electrodes > expected or (n_electrodes < expected and database != "db3"):
        raise MyostreamError(
            f"{where} has {n_electrodes} electrodes but NinaPro {database.upper()} recordings have {expected}; "
            f"it was {said} by mistake: give the database it comes from (--database) or leave it out."
        )


def _column(value: np.ndarray, n: int, name: str, where: str) -> np.ndarray:
    col = np.asarray(value).reshape(-1)
    if len(col) != n:
        raise MyostreamError(f"{where}: {name!r} has {len(col)} samples but 'emg' has {n}; lengths must match.")
    if col.size and (col.min() < 0 or not np.all(np.mod(col, 1) == 0)):
        raise MyostreamError(f"{where}: {name!r} holds values that are not non-negative integers.")
    return col.astype(np.int64)


def _subject_and_exercise(path: Path, mat: dict[str, np.ndarray], where: str) -> tuple[int, int]:
    m = _FILE_NAME.match(path.name)
    if m:
        # The file name wins: DB5's 'exercise' variable is known to disagree with it.
        return int(m.group(1)), int(m.group(2))
    if "subject" in mat and "exercise" in mat:
        return int(np.asarray(mat["subject"]).reshape(-1)[0]), int(np.asarray(mat["exercise"]).reshape(-1)[0])
    raise MyostreamError(
        f"{where}: the name does not follow S<subject>_E<exercise>_A1.mat or S<subject>_A1_E<exercise>.mat "
        "and the file lacks 'subject'/'exercise' variables; rename it."
    )


def _pick_numbering(raw: np.ndarray, database: str, exercise: int, where: str) -> tuple[str, dict[int, str]]:
    codes = set(np.unique(raw).tolist()) - {0}
    try:
        candidates = numberings(database, exercise)
    except MyostreamError as exc:
        raise MyostreamError(f"{where}: {exc}") from None
    for name, table in candidates:
        if codes <= table.keys():
            return name, table
    expected = "; ".join(
        f"{name} {min(t)}-{max(t)}" if name != "force codes" else f"{name} {sorted(t)}" for name, t in candidates
    )
    raise MyostreamError(
        f"{where}: labels {sorted(codes)} do not fit NinaPro {database.upper()} exercise E{exercise} "
        f"(expected {expected}); check database= and the file name."
    )


def read_ninapro_folder(
    folder: str | Path,
    database: str | None = None,
    labels: LabelSource = "restimulus",
    subjects: Iterable[int] | None = None,
    exercises: Iterable[int] | None = None,
    nonfinite: NonFinite = "error",
) -> list[Recording]:
    """Read every exercise file under ``folder`` (any depth), sorted by subject and exercise.

    ``subjects``/``exercises`` select files by the numbers in their names before loading.
    The database is ``database``, else inferred per file (see :func:`infer_database`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"NinaPro folder {str(folder)!r} does not exist.")
    found = []
    for path in folder.rglob("*.mat"):
        m = _FILE_NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), path))
    if not found:
        raise MyostreamError(
            f"NinaPro folder {str(folder)!r} holds no S<subject>_E<exercise>_A1.mat or S<subject>_A1_E<exercise>.mat files."
        )
    want_s = None if subjects is None else {int(s) for s in subjects}
    want_e = None if exercises is None else {int(e) for e in exercises}
    chosen = sorted(f for f in found if (want_s is None or f[0] in want_s) and (want_e is None or f[1] in want_e))
    if not chosen:
        raise MyostreamError(
            f"NinaPro folder {str(folder)!r} has no file for subjects {sorted(want_s or [])} "
            f"exercises {sorted(want_e or [])}; it holds subjects {sorted({f[0] for f in found})}."
        )
    # tqdm shows progress on a terminal only (disable=None), so logs and tests stay quiet
    files = tqdm([f[2] for f in chosen], desc="NinaPro files", unit="file", disable=None, leave=False)
    return [read_ninapro(path, database=database, labels=labels, nonfinite=nonfinite) for path in files]
