"""LabRecorder ``.xdf`` files read into :class:`Recording` (with pyxdf, the standard reader).

Every EMG stream of a file (type ``EMG``, or the one named with ``stream=``) becomes
one recording: its samples as stored, the nominal rate of its header, channel labels
and unit from ``desc/channels/channel/label`` and ``unit``.

Timestamps: pyxdf's ``load_xdf`` is called with ``synchronize_clocks=True`` (each
stream's ClockOffset chunks, fitted robustly, map its timestamps into the recording
computer's clock, so EMG and markers from different machines line up; clock resets
handled as pyxdf does) and ``dejitter_timestamps=False``: dejittering refits the stamps
to a regular grid, which would spread a dropout over the samples around it. Gaps stay
visible instead: ``meta["gaps"]`` lists each one (first sample after it, its time,
samples missing) as :func:`~myostream.stream.gaps.find_gaps` measures them,
``meta["lost"]`` is their sum, and the samples are never filled in or stretched.
``meta["timestamps"]`` holds the synchronised stamps.

Labels come from a marker stream in the same file, chosen by ``markers=`` (or
``[xdf] markers`` in a ``dataset.toml``), else the stream ``<EMG name>-markers``, else
the file's only string stream; a file without one gives unlabelled recordings. Each
marker holds from its timestamp (to the nearest half sample) until the next marker:

- the project's own convention, which ``myostream replay`` and ``myostream stream
  --publish`` write to ``NAME-markers`` beside stream ``NAME`` (both in the file):
  each marker is a class id (``rest``, ``fist``, ``ninapro.B06``) sent when the label
  changes;
- any other marker stream holds plain strings (``cue_fist``, ``1``), mapped to class
  ids by a ``[labels]`` table (the ``label_map=`` argument or a ``dataset.toml``);
  markers listed in ``stop`` end the current segment (unlabelled until the next marker)
  and those in ``ignore`` change nothing. A marker the table does not map is an error
  that names it, as is a plain marker stream without a table.

Repetitions count the runs of each class (rest is 0); subject, session and exercise
come from the file name (BIDS ``sub-``/``ses-``/``task-`` as LabRecorder names files,
or a ``dataset.toml`` pattern).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from myostream.data.sidecar import Sidecar, label_key, sidecar_for
from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording, default_channel_names, repetitions_from_labels
from myostream.stream.gaps import find_gaps

log = logging.getLogger(__name__)

XDF_SUFFIXES = (".xdf", ".xdfz")


def _first(value: Any, default: Any = None) -> Any:
    """pyxdf keeps every XML element as a list of its occurrences; the first, or ``default``."""
    return value[0] if isinstance(value, list) and value else default


def _load(path: Path) -> list[dict[str, Any]]:
    import pyxdf

    if not path.is_file():
        raise MyostreamError(f"XDF file {str(path)!r} does not exist.")
    try:
        streams, _ = pyxdf.load_xdf(
            str(path), synchronize_clocks=True, handle_clock_resets=True, dejitter_timestamps=False
        )
    except Exception as exc:  # pyxdf raises bare Exception/IOError/ValueError for foreign or broken files
        raise MyostreamError(f"{str(path)!r} is not a readable XDF file ({exc}).") from None
    return streams


def _describe(streams: list[dict[str, Any]]) -> str:
    def one(s: dict[str, Any]) -> str:
        info = s["info"]
        return f"{_first(info['name'], '?')!r} ({_first(info['type'], '?')}, {_first(info['nominal_srate'], '?')} Hz)"

    return ", ".join(one(s) for s in streams) or "no streams"


def _channels(info: dict[str, Any], n: int) -> tuple[tuple[str, ...], str | None]:
    """Channel labels and the common unit from ``desc/channels/channel``; defaults where the header has none."""
    desc = _first(info.get("desc"))
    channels = _first(desc.get("channels")) if isinstance(desc, dict) else None
    entries = channels.get("channel", []) if isinstance(channels, dict) else []
    labels = [_first(c.get("label")) if isinstance(c, dict) else None for c in entries]
    texts = [label for label in labels if isinstance(label, str) and label]
    names = tuple(texts) if len(texts) == len(labels) == n else default_channel_names(n)
    units = {_first(c.get("unit")) for c in entries if isinstance(c, dict)} - {None}
    if len(units) > 1:
        log.warning(
            "XDF stream %r gives its channels different units (%s); the recording's unit says 'mixed'.",
            _first(info["name"]),
            ", ".join(sorted(units)),
        )
        return names, "mixed: " + ", ".join(sorted(units))
    return names, units.pop() if units else None


def _marker_stream(
    streams: list[dict[str, Any]], emg_name: str, chosen: str | None, path: Path
) -> dict[str, Any] | None:
    strings = [s for s in streams if _first(s["info"]["channel_format"]) == "string"]
    if chosen is not None:
        found = [s for s in strings if _first(s["info"]["name"]) == chosen]
        if not found:
            raise MyostreamError(
                f"XDF file {str(path)!r} has no marker stream {chosen!r}; its string streams are {_describe(strings)}."
            )
        return found[0]
    own = [s for s in strings if _first(s["info"]["name"]) == f"{emg_name}-markers"]
    if own:
        return own[0]
    if len(strings) > 1:
        raise MyostreamError(
            f"XDF file {str(path)!r} has {len(strings)} marker streams ({_describe(strings)}) and none named "
            f"{emg_name + '-markers'!r}; choose one with markers=NAME or [xdf] markers in a dataset.toml."
        )
    return strings[0] if strings else None


def _labels(
    stamps: np.ndarray, rate: float, marker: dict[str, Any] | None, own: bool, sidecar: Sidecar, where: str
) -> tuple[np.ndarray, tuple[str, ...], list[tuple[float, str]]]:
    """Per-sample labels from a marker stream: each marker holds from its time until the next one.

    ``own``: the stream is ``NAME-markers`` of a stream ``NAME`` in the file, whose
    markers are class ids (the project's convention); any other needs a ``[labels]`` table.
    """
    n = len(stamps)
    if marker is None:
        return np.full(n, -1, np.int16), (), []
    texts = [label_key(_first(v, "")) for v in marker["time_series"]]
    times = np.asarray(marker["time_stamps"], np.float64)
    events = [(float(t), text) for t, text in zip(times, texts)]
    kept = [(t, text) for t, text in events if text not in sidecar.ignore]
    if sidecar.labels is None and not own:
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(text for _, text in kept))[:5])
        raise MyostreamError(
            f"{where} holds plain markers ({shown}); map them to class ids with a [labels] table in a dataset.toml "
            "next to the file (or label_map=), see docs/formats.md."
        )
    classes = sidecar.class_ids([text for _, text in kept if text not in sidecar.stop], where)
    found = [classes[text] for _, text in kept if text in classes]
    names = sidecar.label_order(found)
    order = np.argsort([t for t, _ in kept], kind="stable")
    kept = [kept[i] for i in order]
    code = np.array([names.index(classes[text]) if text in classes else -1 for _, text in kept] + [-1], np.int16)
    # A marker applies from the sample nearest its time on: half a period of tolerance absorbs the
    # rounding of two clock fits (EMG and markers) that map the same instant.
    at = np.array([t for t, _ in kept], np.float64) - 0.5 / rate
    which = np.searchsorted(at, stamps, side="right") - 1
    return code[which], names, events


def read_xdf(
    path: str | Path,
    stream: str | None = None,
    markers: str | None = None,
    label_map: Mapping[str, str] | None = None,
    sidecar: str | Path | None = None,
    nonfinite: NonFinite = "error",
) -> list[Recording]:
    """One :class:`Recording` per EMG stream of an XDF file (see the module docstring).

    ``stream`` names the EMG stream to read (any regularly sampled numeric stream);
    ``markers`` the marker stream; ``label_map`` maps marker strings to class ids
    (overriding the sidecar's ``[labels]``); ``sidecar`` is a ``dataset.toml`` to use
    instead of the nearest one.
    """
    path = Path(path)
    sc = sidecar_for(path, sidecar, label_map)
    streams = _load(path)
    chosen = stream or sc.emg_stream
    if chosen is not None:
        emg_streams = [s for s in streams if _first(s["info"]["name"]) == chosen]
        if not emg_streams:
            raise MyostreamError(
                f"XDF file {str(path)!r} has no stream named {chosen!r}; it holds {_describe(streams)}."
            )
    else:
        emg_streams = [s for s in streams if str(_first(s["info"]["type"], "")).lower() == "emg"]
        if not emg_streams:
            raise MyostreamError(
                f"XDF file {str(path)!r} has no stream of type EMG (it holds {_describe(streams)}); "
                "name the one to read with stream=NAME (myostream replay --stream NAME)."
            )
    entities = sc.entities(path)
    if entities is None:
        raise MyostreamError(f"XDF file {str(path)!r} does not match the [filename] pattern of {sc.where}.")
    return [_recording(path, s, streams, markers or sc.marker_stream, sc, entities, nonfinite) for s in emg_streams]


def _recording(
    path: Path,
    s: dict[str, Any],
    streams: list[dict[str, Any]],
    markers: str | None,
    sc: Sidecar,
    entities: dict[str, str],
    nonfinite: NonFinite = "error",
) -> Recording:
    info = s["info"]
    name = str(_first(info["name"], ""))
    where = f"XDF stream {name!r} of {str(path)!r}"
    rate = float(_first(info["nominal_srate"], 0))
    fmt = _first(info["channel_format"])
    if fmt == "string" or not rate > 0:
        raise MyostreamError(
            f"{where} is {'a string stream' if fmt == 'string' else 'irregularly sampled (nominal rate 0)'}; "
            "myostream reads regularly sampled numeric EMG streams."
        )
    stamps = np.asarray(s["time_stamps"], np.float64)
    if len(stamps) == 0:
        raise MyostreamError(f"{where} holds no samples.")
    data = np.asarray(s["time_series"])
    channel_names, unit = _channels(info, data.shape[1])
    marker = _marker_stream(streams, name, markers, path)
    marker_name = None if marker is None else str(_first(marker["info"]["name"]))
    names = {_first(x["info"]["name"]) for x in streams}
    own = marker_name is not None and marker_name.endswith("-markers") and marker_name[: -len("-markers")] in names
    labels, label_names, events = _labels(
        stamps, rate, marker, own, sc, f"Marker stream {marker_name!r} of {str(path)!r}"
    )
    gaps = [{"sample": i, "time": float(stamps[i]), "missing": m} for i, m in find_gaps(stamps, rate)]
    if gaps:
        log.warning(
            "%s lost %d samples in %d gap(s) (meta['gaps'] lists them); they are not filled in.",
            where,
            sum(g["missing"] for g in gaps),
            len(gaps),
        )
    if marker is None:
        log.info("%s has no marker stream; its samples are unlabelled.", where)
    return Recording(
        emg=data.astype(np.float32, copy=False),
        rate=rate,
        labels=labels,
        label_names=label_names,
        channel_names=channel_names,
        subject=entities.get("subject", path.stem),
        session=entities.get("session", "1"),
        exercise=entities.get("exercise", ""),
        dataset=sc.dataset_name("xdf"),
        unit=unit or "a.u.",
        repetition=repetitions_from_labels(labels, label_names),
        source=str(path),
        meta={
            "stream": name,
            "stream_type": _first(info.get("type")),
            "source_id": _first(info.get("source_id")),
            "hostname": _first(info.get("hostname")),
            "timestamps": stamps,
            "effective_rate": float(info.get("effective_srate") or 0.0),
            "clock_offsets": len(s.get("clock_times", [])),
            "gaps": gaps,
            "lost": sum(g["missing"] for g in gaps),
            "marker_stream": marker_name,
            "markers": events,
            "sidecar": None if sc.path is None else str(sc.path),
        },
        nonfinite=nonfinite,
    )


def read_xdf_recording(
    path: str | Path,
    stream: str | None = None,
    markers: str | None = None,
    label_map: Mapping[str, str] | None = None,
    sidecar: str | Path | None = None,
    nonfinite: NonFinite = "error",
) -> Recording:
    """The one EMG stream of an XDF file (``stream=`` chooses when it holds several)."""
    recordings = read_xdf(
        path, stream=stream, markers=markers, label_map=label_map, sidecar=sidecar, nonfinite=nonfinite
    )
    if len(recordings) > 1:
        names = ", ".join(repr(r.meta["stream"]) for r in recordings)
        raise MyostreamError(
            f"XDF file {str(path)!r} holds {len(recordings)} EMG streams ({names}); choose one with stream=NAME "
            "(myostream replay --stream NAME, or [xdf] emg in a dataset.toml)."
        )
    return recordings[0]


def read_xdf_folder(
    folder: str | Path,
    stream: str | None = None,
    markers: str | None = None,
    label_map: Mapping[str, str] | None = None,
    nonfinite: NonFinite = "error",
) -> list[Recording]:
    """Every EMG stream of every ``.xdf`` file under ``folder`` (also BIDS ``sub-*/ses-*/`` trees), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"XDF folder {str(folder)!r} does not exist.")
    paths = sorted(p for suffix in XDF_SUFFIXES for p in folder.rglob(f"*{suffix}"))
    if not paths:
        raise MyostreamError(f"XDF folder {str(folder)!r} holds no .xdf files.")
    return [
        r for p in paths for r in read_xdf(p, stream=stream, markers=markers, label_map=label_map, nonfinite=nonfinite)
    ]
