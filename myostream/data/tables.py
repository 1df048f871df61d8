"""Plain tables read into :class:`Recording`: CSV, TSV, whitespace-separated text, ``.npy`` and ``.npz``.

Many public EMG datasets are folders of such files, one per subject, class and
repetition (LibEMG's ``OfflineDataHandler`` layout) or one per session with a label
column. The numbers do not say their rate, columns or classes, so a ``dataset.toml``
sidecar does (:mod:`myostream.data.sidecar`, ``docs/formats.md``): the rate, which
columns are EMG, label, time and repetition, the label values' class ids, and a file
name pattern for subject, session, class and repetition.

Text files: one sample per line; blank lines and lines starting with the comment
character (``#``) are skipped; fields are split at the delimiter (quotes allowed in
CSV/TSV). A line whose field count differs from the table's, or whose EMG, time or
repetition field is not a number, is malformed. ``bad_lines="error"`` (the default)
rejects the file naming each such line by number; ``"skip"`` leaves them out, logs a
warning with their numbers and lists them in ``meta["skipped_lines"]`` (the samples
after a skipped line then sit one period early: the file itself lost that sample).

A file whose sample count disagrees with its stated duration (``duration_s``, or the
span of its time column) at the stated rate by more than one sample and 1 % gets a
warning on this module's logger (``myostream.data.tables``): the rate or the file is
likely wrong, and nothing is changed.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from myostream.data.sidecar import BAD_LINES, TIME_UNITS, BadLines, Column, Sidecar, label_key, sidecar_for
from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording, default_channel_names, repetitions_from_labels

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
TABLE_SUFFIXES = (*TEXT_SUFFIXES, ".npy", ".npz")
_SHOWN = 3  # malformed lines described in full; the rest are listed by number


@dataclass
class _Table:
    """What a file gave, before it becomes a Recording."""

    emg: np.ndarray
    channel_names: tuple[str, ...]
    labels: list[str] | None = None
    time: np.ndarray | None = None
    repetition: np.ndarray | None = None
    skipped: list[int] = field(default_factory=list)


def _index(spec: Column, names: list[str] | None, n_columns: int, what: str) -> int:
    if isinstance(spec, int):
        if spec >= n_columns:
            raise MyostreamError(f"{what} is column {spec}, but the table has {n_columns} columns (counted from 0).")
        return spec
    if names is None:
        raise MyostreamError(
            f"{what} names column {spec!r}, but the table has no header line; set header = true under [columns] "
            "or give 0-based column indices."
        )
    if spec not in names:
        raise MyostreamError(f"{what} names column {spec!r}, which the header ({', '.join(names)}) does not have.")
    return names.index(spec)


def _columns(sc: Sidecar, names: list[str] | None, n_columns: int, where: str) -> tuple[list[int], dict[str, int]]:
    """EMG column indices and the index of each other role (label, time, repetition) the sidecar names."""
    roles = {
        role: _index(spec, names, n_columns, f"{where}: [columns] {role}")
        for role in ("label", "time", "repetition")
        if (spec := getattr(sc, role)) is not None
    }
    if sc.emg is not None:
        emg = [_index(c, names, n_columns, f"{where}: [columns] emg") for c in sc.emg]
    else:
        emg = [j for j in range(n_columns) if j not in roles.values()]
    if not emg:
        raise MyostreamError(f"{where} has no EMG columns left; name them with emg = [...] under [columns].")
    return emg, roles


def _keys(values: list) -> list[str]:
    """:func:`label_key` of every value, worked out once per distinct value (files have millions of rows)."""
    keys = {v: label_key(v) for v in set(values)}
    return [keys[v] for v in values]


def _splitter(delimiter: str):
    if delimiter == "whitespace":
        return str.split

    def split(line: str) -> list[str]:
        return next(csv.reader([line], delimiter=delimiter)) if '"' in line else line.split(delimiter)

    return split


def _read_text(path: Path, sc: Sidecar, bad_lines: BadLines, where: str) -> _Table:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MyostreamError(f"{where} is not UTF-8 text ({exc}); is it a table?") from None
    lines = [
        (no, line)
        for no, line in enumerate(text.splitlines(), 1)
        if line.strip() and not (sc.comment and line.lstrip().startswith(sc.comment))
    ]
    if not lines:
        raise MyostreamError(f"{where} holds no lines of data.")
    delimiter = sc.delimiter or {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    if delimiter is None:  # .txt: comma- or tab-separated when its first line says so, else whitespace
        first = lines[0][1]
        delimiter = "," if "," in first else "\t" if "\t" in first else "whitespace"
    split = _splitter(delimiter)
    names = None
    if sc.header:
        names = [f.strip() for f in split(lines[0][1])]
        lines = lines[1:]
        if not lines:
            raise MyostreamError(f"{where} holds a header line and no data.")
    rows = [split(line) for _, line in lines]
    numbers = [no for no, _ in lines]
    n_columns = len(names) if names is not None else len(rows[0])
    emg, roles = _columns(sc, names, n_columns, where)
    column_name = (lambda j: names[j]) if names is not None else (lambda j: str(j))
    bad: dict[int, str] = {}
    for i, row in enumerate(rows):
        if len(row) != n_columns:
            bad[i] = f"has {len(row)} fields, expected {n_columns}"
    numeric = emg + [roles[r] for r in ("time", "repetition") if r in roles]

    def convert(keep: list[int]) -> dict[int, np.ndarray]:
        out = {}
        columns = list(zip(*(rows if len(keep) == len(rows) else [rows[i] for i in keep])))  # rows -> columns in C
        for j in numeric:
            values = columns[j]
            try:
                out[j] = np.array(values, np.float64)
            except ValueError:  # find the lines, then leave the conversion to the caller's second pass
                for i, v in zip(keep, values):
                    try:
                        float(v)
                    except ValueError:
                        bad.setdefault(i, f"{v.strip()!r} in column {column_name(j)} is not a number")
        return out

    keep = [i for i in range(len(rows)) if i not in bad]
    converted = convert(keep)
    if bad:
        described = sorted(bad)
        if bad_lines == "error":
            shown = "; ".join(
                f"line {numbers[i]} {bad[i]}" if bad[i].startswith("has") else f"line {numbers[i]}: {bad[i]}"
                for i in described[:_SHOWN]
            )
            more = described[_SHOWN:]
            listed = ", ".join(str(numbers[i]) for i in more[:10]) + ("..." if len(more) > 10 else "")
            rest = f" (and {len(more)} more: lines {listed})" if more else ""
            hint = (
                " If the first line names the columns, set header = true under [columns] in the dataset.toml."
                if described[0] == 0 and names is None
                else ""
            )
            raise MyostreamError(
                f"{where} has {len(bad)} malformed line(s): {shown}{rest}; fix the file, or read it with "
                f'bad_lines = "skip" to leave such lines out.{hint}'
            )
        keep = [i for i in range(len(rows)) if i not in bad]
        if not keep:
            raise MyostreamError(f"{where} has no well-formed lines.")
        converted = convert(keep)
        log.warning(
            "%s: left out %d malformed line(s) (%s); the samples after them come one period early each.",
            where,
            len(bad),
            ", ".join(str(numbers[i]) for i in described[:10]) + ("..." if len(bad) > 10 else ""),
        )
    return _Table(
        emg=np.column_stack([converted[j] for j in emg]).astype(np.float32),
        channel_names=tuple(column_name(j) for j in emg) if names is not None else default_channel_names(len(emg)),
        labels=_keys([rows[i][roles["label"]] for i in keep]) if "label" in roles else None,
        time=converted[roles["time"]] if "time" in roles else None,
        repetition=converted[roles["repetition"]] if "repetition" in roles else None,
        skipped=[numbers[i] for i in sorted(bad)],
    )


def _read_npy(path: Path, sc: Sidecar, where: str) -> _Table:
    array = _load_array(lambda: np.load(path, allow_pickle=False), where)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise MyostreamError(
            f"{where} holds a {array.dtype} array of shape {array.shape}; expected numbers [samples, columns]."
        )
    emg, roles = _columns(sc, None, array.shape[1], where)
    return _Table(
        emg=array[:, emg].astype(np.float32),
        channel_names=default_channel_names(len(emg)),
        labels=_keys(array[:, roles["label"]].tolist()) if "label" in roles else None,
        time=array[:, roles["time"]].astype(np.float64) if "time" in roles else None,
        repetition=array[:, roles["repetition"]] if "repetition" in roles else None,
    )


def _read_npz(path: Path, sc: Sidecar, where: str) -> _Table:
    arrays = _load_array(lambda: dict(np.load(path, allow_pickle=False)), where)

    def get(role: str, spec: Column | None) -> np.ndarray | None:
        if spec is None:
            return None
        if spec not in arrays:
            raise MyostreamError(f"{where} has no array {spec!r} ([columns] {role}); it holds {', '.join(arrays)}.")
        return np.asarray(arrays[spec])

    if sc.emg is not None and len(sc.emg) != 1:
        raise MyostreamError(f"{where}: for .npz files [columns] emg names one array, not {list(sc.emg)}.")
    key = sc.emg[0] if sc.emg else "emg" if "emg" in arrays else next(iter(arrays)) if len(arrays) == 1 else None
    if key is None:
        raise MyostreamError(
            f'{where} holds arrays {", ".join(arrays)}; name the EMG one with emg = "NAME" under [columns].'
        )
    emg = get("emg", key)
    assert emg is not None
    emg = emg[:, None] if emg.ndim == 1 else emg
    labels, time, repetition = get("label", sc.label), get("time", sc.time), get("repetition", sc.repetition)
    for role, value in (("label", labels), ("time", time), ("repetition", repetition)):
        if value is not None and len(value) != len(emg):
            raise MyostreamError(f"{where}: array {role} has {len(value)} entries but the EMG has {len(emg)} samples.")
    return _Table(
        emg=emg.astype(np.float32),
        channel_names=default_channel_names(emg.shape[1]),
        labels=None if labels is None else _keys(labels.tolist()),
        time=None if time is None else time.astype(np.float64),
        repetition=repetition,
    )


def _load_array(load, where: str):
    try:
        return load()
    except (OSError, ValueError, EOFError) as exc:
        raise MyostreamError(f"{where} is not a readable NumPy file ({exc}).") from None


def _check_duration(table: _Table, sc: Sidecar, rate: float, where: str) -> None:
    n = len(table.emg)
    if sc.duration_s is not None:
        stated, said = sc.duration_s, f"duration_s = {sc.duration_s:g} s"
    elif table.time is not None and n > 1:
        stated = float(table.time[-1] - table.time[0]) * TIME_UNITS[sc.time_unit] + 1.0 / rate
        said = f"its time column spans {stated:g} s"
    else:
        return
    expected = stated * rate
    if abs(n - expected) > max(1.0, 0.01 * expected):
        log.warning(
            "%s has %d samples, but %s at %g Hz makes %.0f; check rate in %s, or look for missing lines.",
            where,
            n,
            said,
            rate,
            expected,
            sc.where,
        )


def read_table(
    path: str | Path,
    sidecar: str | Path | None = None,
    bad_lines: BadLines | None = None,
    nonfinite: NonFinite = "error",
) -> Recording:
    """Read one table file described by its ``dataset.toml`` (the nearest one, or ``sidecar``).

    ``bad_lines``: ``"error"`` (default; also settable as ``bad_lines`` in the sidecar)
    or ``"skip"`` for malformed text lines (see the module docstring).
    """
    path = Path(path)
    where = f"Table {str(path)!r}"
    if not path.is_file():
        raise MyostreamError(f"{where} does not exist.")
    sc = sidecar_for(path, sidecar)
    if sc.path is None:
        raise MyostreamError(
            f"{where} has no dataset.toml in its folder or a parent; write one that gives at least rate = <Hz> "
            "(see docs/formats.md)."
        )
    policy = bad_lines or sc.bad_lines
    if policy not in BAD_LINES:
        raise MyostreamError(f'bad_lines must be "error" or "skip", not {policy!r}.')
    if sc.rate is None:
        raise MyostreamError(f"{sc.where} gives no rate; add rate = <samples per second> for {str(path)!r}.")
    entities = sc.entities(path)
    if entities is None:
        raise MyostreamError(
            f"{where} does not match the [filename] pattern of {sc.where}, so its metadata is unknown."
        )
    suffix = path.suffix.lower()
    if suffix == ".npy":
        table = _read_npy(path, sc, where)
    elif suffix == ".npz":
        table = _read_npz(path, sc, where)
    elif suffix in TEXT_SUFFIXES:
        table = _read_text(path, sc, policy, where)
    else:
        raise MyostreamError(f"{where} is not a table file; tables end in {', '.join(TABLE_SUFFIXES)}.")
    n = len(table.emg)
    if n == 0:
        raise MyostreamError(f"{where} holds no samples.")
    _check_duration(table, sc, sc.rate, where)
    values = table.labels if table.labels is not None else [entities["label"]] * n if "label" in entities else None
    if values is not None:
        classes = sc.class_ids(values, where)
        label_names = sc.label_order(list(classes.values()))
        lut = {v: label_names.index(c) for v, c in classes.items()}
        labels = np.fromiter((lut[v] for v in values), np.int16, n)
    else:
        label_names, labels = (), np.full(n, -1, np.int16)
    if table.repetition is not None:
        repetition = np.rint(table.repetition).astype(np.int16)
    elif "repetition" in entities:
        if not entities["repetition"].isdigit():
            raise MyostreamError(f"{where}: the file name gives repetition {entities['repetition']!r}, not a number.")
        repetition = np.full(n, int(entities["repetition"]), np.int16)
    else:
        repetition = repetitions_from_labels(labels, label_names)
    meta: dict[str, Any] = {"sidecar": str(sc.path), "skipped_lines": table.skipped}
    if table.time is not None:
        meta["timestamps"] = table.time * TIME_UNITS[sc.time_unit]
    return Recording(
        emg=table.emg,
        rate=sc.rate,
        labels=labels,
        label_names=label_names,
        channel_names=table.channel_names,
        subject=entities.get("subject", path.stem),
        session=entities.get("session", "1"),
        exercise=entities.get("exercise", ""),
        dataset=sc.dataset_name("table"),
        unit=sc.unit or "a.u.",
        repetition=repetition,
        source=str(path),
        meta=meta,
        nonfinite=nonfinite,
    )


def read_table_folder(
    folder: str | Path,
    sidecar: str | Path | None = None,
    bad_lines: BadLines | None = None,
    nonfinite: NonFinite = "error",
) -> list[Recording]:
    """Every table file of a dataset folder, read with the folder's ``dataset.toml``, sorted by path.

    The files are those the sidecar's ``files`` glob selects (default: every table file
    below the folder) that match its ``[filename]`` pattern, when it has one.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"Table folder {str(folder)!r} does not exist.")
    sc = sidecar_for(folder, sidecar)
    if sc.path is None:
        raise MyostreamError(
            f"Table folder {str(folder)!r} has no dataset.toml; write one that gives at least rate = <Hz> "
            "(see docs/formats.md)."
        )
    if sc.files:
        paths = sorted(p for p in folder.glob(sc.files) if p.is_file())
    else:
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in TABLE_SUFFIXES and p.is_file())
    matching = [p for p in paths if sc.entities(p) is not None]
    if len(matching) < len(paths):
        log.info(
            "%d of %d files in %s do not match the [filename] pattern of %s and are not read.",
            len(paths) - len(matching),
            len(paths),
            folder,
            sc.where,
        )
    if not matching:
        raise MyostreamError(
            f"Table folder {str(folder)!r} holds no table files{' matching the sidecar' if paths else ''} "
            f"({', '.join(TABLE_SUFFIXES)}; see files and [filename] in {sc.where})."
        )
    files = tqdm(matching, desc="table files", unit="file", disable=None, leave=False)
    return [read_table(p, sidecar=sc.path, bad_lines=bad_lines, nonfinite=nonfinite) for p in files]
