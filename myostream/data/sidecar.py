"""``dataset.toml``: what a folder's recordings do not say about themselves.

Plain tables (CSV, TSV, text, ``.npy``/``.npz``) carry numbers only, and an XDF file
knows its streams but not which marker means which class. One ``dataset.toml`` in a
dataset folder fills that in for every file below it; a file uses the nearest one in
its own folder or a parent folder. Every key is optional except ``rate`` for tables
(the full reference with examples is ``docs/formats.md``)::

    dataset = "my-armband"          # dataset name (default: the sidecar's folder name)
    rate = 1000                     # Hz (tables; XDF takes the stream header's)
    unit = "mV"                     # unit of the EMG values (tables; XDF: the header's)
    duration_s = 5.0                # stated length of each file: a warning when its rows disagree
    files = "**/*.csv"              # which files are recordings (glob; default: every table file)
    bad_lines = "error"             # tables: malformed lines reject the file ("error") or are left out ("skip")

    [columns]                       # tables: column names (with a header line) or 0-based indices
    header = true                   # the first line names the columns (default false)
    delimiter = ","                 # default: "," for .csv, tab for .tsv, any whitespace for .txt
    emg = ["EMG1", "EMG2"]          # EMG columns (default: all but label, time and repetition)
    label = "class"                 # per-sample label column (or the file name's label group)
    time = "t"                      # timestamp column, in time_unit ("s", "ms", "us")
    repetition = "rep"              # per-sample repetition column
                                    # (.npz: emg, label, time, repetition name arrays)

    [labels]                        # label value in the files (or XDF marker text) -> class id
    0 = "rest"
    1 = "fist"

    [xdf]
    emg = "MyoBand"                 # the EMG stream to read (default: every stream of type EMG)
    markers = "Cues"                # the marker stream (default: EMG-NAME-markers, else the only one)
    stop = ["stop"]                 # markers that end the current segment (unlabelled until the next)
    ignore = ["trial_start"]        # markers that leave the labels as they are

    [filename]                      # metadata from the file's path below the sidecar's folder
    pattern = 'S(?P<subject>\\d+)/R_(?P<repetition>\\d+)_C_(?P<label>\\d+)\\.csv'

The pattern's named groups ``subject``, ``session``, ``exercise``, ``repetition`` and
``label`` (one class for the whole file, mapped through ``[labels]``) fill the
recording's fields, as LibEMG's ``RegexFilter`` does; files it does not match are not
recordings of the dataset. Without a pattern, BIDS entities in the file name
(``sub-01_ses-2_task-grasp``) give subject, session and exercise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import StringConstraints

from myostream.errors import MyostreamError
from myostream.records import Recording, is_class_id
from myostream.schema import Number, PositiveNumber, Says, Table, Whole, read_toml, validate

SIDECAR = "dataset.toml"
GROUPS = ("subject", "session", "exercise", "repetition", "label")
TimeUnit = Literal["s", "ms", "us"]
#: seconds per unit of a table's time column
TIME_UNITS: dict[TimeUnit, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
#: what a malformed line of a text table does: reject the file, or leave the line out
BadLines = Literal["error", "skip"]
BAD_LINES: tuple[BadLines, ...] = get_args(BadLines)
_BIDS = {"sub": "subject", "ses": "session", "task": "exercise"}

Column = str | int


def label_key(value: Any) -> str:
    """A label value as text: ``1``, ``1.0`` and ``"1"`` are all ``"1"``, other text is stripped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


@dataclass(frozen=True)
class Sidecar:
    """A parsed ``dataset.toml`` (or the defaults when a file has none: ``path`` is None)."""

    path: Path | None = None
    dataset: str = ""
    rate: float | None = None
    unit: str | None = None
    duration_s: float | None = None
    files: str | None = None
    bad_lines: BadLines = "error"
    header: bool = False
    delimiter: str | None = None
    comment: str = "#"
    emg: tuple[Column, ...] | None = None
    label: Column | None = None
    time: Column | None = None
    time_unit: TimeUnit = "s"
    repetition: Column | None = None
    labels: Mapping[str, str] | None = None
    emg_stream: str | None = None
    marker_stream: str | None = None
    stop: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    @property
    def where(self) -> str:
        return repr(str(self.path)) if self.path else "the reader's arguments"

    @property
    def root(self) -> Path | None:
        """The folder the sidecar describes."""
        return None if self.path is None else self.path.parent

    def dataset_name(self, default: str) -> str:
        return self.dataset or (self.root.name if self.root else default)

    def entities(self, path: Path) -> dict[str, str] | None:
        """Metadata from the file's path (see the module docstring); None when the pattern does not match."""
        if self.pattern is None:
            found = {}
            for token in path.stem.split("_"):
                key, _, value = token.partition("-")
                if key in _BIDS and value:
                    found[_BIDS[key]] = value
            return found
        try:
            relative = path.resolve().relative_to(self.root.resolve()) if self.root else Path(path.name)
        except ValueError:
            relative = Path(path.name)
        m = self.pattern.search(relative.as_posix())
        return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}

    def class_ids(self, values: list[str], what: str) -> dict[str, str]:
        """Label value -> class id for each value: through ``[labels]`` when given, else the values are class ids."""
        mapping: dict[str, str] = {}
        unknown = []
        for v in dict.fromkeys(values):
            if self.labels is not None:
                if v in self.labels:
                    mapping[v] = self.labels[v]
                else:
                    unknown.append(v)
            elif is_class_id(v) and not v.isdigit():
                mapping[v] = v
            else:
                unknown.append(v)
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:8]) + (
                f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
            )
            if self.labels is not None:
                raise MyostreamError(
                    f"{what} holds label(s) {shown} that [labels] in {self.where} does not map; add them there."
                )
            raise MyostreamError(
                f"{what} holds label(s) {shown}, which are not class ids; map them to class ids in a [labels] "
                f"table of a {SIDECAR} next to the file (docs/formats.md)."
            )
        return mapping

    def label_order(self, found: list[str]) -> tuple[str, ...]:
        """Label names: the [labels] table's classes in its order (stable across files), else as found."""
        if self.labels is not None:
            return tuple(dict.fromkeys(c for c in self.labels.values() if c in found))
        return tuple(dict.fromkeys(found))


def find_sidecar(path: Path) -> Path | None:
    """The nearest ``dataset.toml`` in ``path``'s folder (``path`` itself for a folder) or a parent."""
    path = path.resolve()
    for folder in ([path] if path.is_dir() else []) + list(path.parents):
        if (folder / SIDECAR).is_file():
            return folder / SIDECAR
    return None


TableColumn = Annotated[str | Whole, Says("a column name or 0-based index")]
TableColumns = Annotated[TableColumn | list[TableColumn], Says("a column (name or 0-based index) or a list of them")]


class ColumnsTable(Table):
    header: bool | None = None
    delimiter: (
        Annotated[str, StringConstraints(pattern=r"(?s)^(.|whitespace)$"), Says('one character or "whitespace"')] | None
    ) = None
    comment: str | None = None
    emg: TableColumns | None = None
    label: TableColumn | None = None
    time: TableColumn | None = None
    time_unit: TimeUnit | None = None
    repetition: TableColumn | None = None


class XdfTable(Table):
    emg: str | None = None
    markers: str | None = None
    stop: list[str | Number] = []
    ignore: list[str | Number] = []


class FilenameTable(Table):
    pattern: str | None = None


class SidecarFile(Table):
    """A ``dataset.toml`` (see the module docstring); unset keys keep :class:`Sidecar`'s defaults."""

    dataset: str | None = None
    rate: Annotated[PositiveNumber, Says("a positive number of Hz")] | None = None
    unit: str | None = None
    duration_s: Annotated[PositiveNumber, Says("a positive number of seconds")] | None = None
    files: str | None = None
    bad_lines: BadLines | None = None
    columns: ColumnsTable = ColumnsTable()
    labels: dict[str, Any] | None = None
    xdf: XdfTable = XdfTable()
    filename: FilenameTable = FilenameTable()


def load_sidecar(path: str | Path | None) -> Sidecar:
    """Parse and check a ``dataset.toml`` (None: the defaults)."""
    if path is None:
        return Sidecar()
    path = Path(path)
    where = f"Sidecar {str(path)!r}"
    file = validate(SidecarFile, read_toml(path, "Sidecar"), where)
    columns, xdf = file.columns, file.xdf
    source = file.filename.pattern
    pattern: re.Pattern[str] | None = None
    if source is not None:
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise MyostreamError(f"{where}: [filename] pattern is not a valid regular expression ({exc}).") from None
        bad_groups = sorted(set(pattern.groupindex) - set(GROUPS))
        if bad_groups:
            raise MyostreamError(
                f"{where}: [filename] pattern has group(s) {', '.join(bad_groups)}; name groups {', '.join(GROUPS)}."
            )
    emg = columns.emg
    # heterogeneous values, each checked by SidecarFile against the type of its Sidecar field
    found: dict[str, Any] = dict(
        dataset=file.dataset,
        rate=file.rate,
        unit=file.unit,
        duration_s=file.duration_s,
        files=file.files,
        bad_lines=file.bad_lines,
        header=columns.header,
        delimiter=columns.delimiter,
        comment=columns.comment,
        emg=None if emg is None else tuple(emg if isinstance(emg, list) else [emg]),
        label=columns.label,
        time=columns.time,
        time_unit=columns.time_unit,
        repetition=columns.repetition,
        labels=None if file.labels is None else check_label_map(file.labels, f"{where}: [labels]"),
        emg_stream=xdf.emg,
        marker_stream=xdf.markers,
        stop=tuple(label_key(s) for s in xdf.stop),
        ignore=tuple(label_key(s) for s in xdf.ignore),
        pattern=pattern,
    )
    return Sidecar(path=path, **{k: v for k, v in found.items() if v is not None})


def check_label_map(labels: Mapping[Any, Any], what: str) -> dict[str, str]:
    """A label table with its keys as :func:`label_key` text, checked to map onto class ids."""
    table = {label_key(k): v for k, v in labels.items()}
    bad = [f"{k} = {v!r}" for k, v in table.items() if not isinstance(v, str) or not is_class_id(v)]
    if bad:
        raise MyostreamError(
            f"{what} must map values to class ids (letters, digits, _ and dots), not {', '.join(bad[:3])}."
        )
    return table


def sidecar_for(path: Path, sidecar: str | Path | None, label_map: Mapping[Any, Any] | None = None) -> Sidecar:
    """The sidecar given, else the nearest one (see :func:`find_sidecar`), else the defaults;
    ``label_map`` replaces its ``[labels]``."""
    sc = load_sidecar(sidecar if sidecar is not None else find_sidecar(path))
    if label_map is None:
        return sc
    return replace(sc, labels=check_label_map(label_map, "label_map"))


def relabel(recording: Recording, labels: Mapping[Any, str]) -> Recording:
    """``recording`` with its label names mapped to class ids (``labels``: a label name, or its
    text, -> class id); names the mapping leaves out become unlabelled (-1). Labels of a
    dataset the project does not know reach the description catalogs this way."""
    table = check_label_map(labels, f"The label map of {recording.name!r}")
    mapped = [table.get(label_key(n)) for n in recording.label_names]
    if not any(mapped):
        raise MyostreamError(
            f"The label map names none of {recording.name!r}'s labels ({', '.join(recording.label_names)}); "
            'map them to class ids, e.g. {"FIST": "fist"}.'
        )
    names = tuple(dict.fromkeys(m for m in mapped if m))
    lut = np.array([names.index(m) if m else -1 for m in mapped] + [-1], np.int16)
    return replace(recording, labels=lut[np.asarray(recording.labels, np.int64)], label_names=names)
