"""Experiment configs: what ``myostream train`` trains, on which data, under which protocol.

An experiment is a TOML file in ``models/experiments/`` (or any path). It extends a
model config (``models/<name>.toml``; by default the one with the experiment's own
name) and adds how to get the windows, how to split them and which text to align to::

    name = "myosem-simulated"
    model = "myosem-simulated"          # model config it extends (default: same name)

    [model_overrides]                   # changes to the model config's [model] keys
    [stage2] / [stage3]                 # changes to its training settings

    [data]
    source = "simulated"                # ninapro | myo | sessions | xdf | table | simulated
    window_ms = 200                     # default: the model's window
    hop_ms = 50
    filter = "simulated"                # device profile whose causal filter the windows pass
                                        # through (what the live pipeline applies), or "none"
    normalisation = "channel"           # per-user level: none | channel | global (myostream.preprocess)
    ring = true                         # electrodes form a ring (default: the filter profile's)
    nonfinite = "error"                 # NaN samples in the files: "error", "drop" or "interpolate"
    ...                                 # per source: folder, database, exercise, users, ...

    [protocol]
    name = "cross-user"                 # random | cross-user | cross-class | repetition | cross-dataset
    seed = 0
    folds = 2                           # cross-user: subjects cut into folds (--fold picks one)

    [test_data]                         # cross-dataset: the recordings that test (all of them);
    source = "myo"                      # keys as in [data]; window, hop, filter, rest, label,
    folder = "..."                      # classes and channels default to [data]'s

    [augment]                           # how training batches are perturbed (myostream.train.augment)
    rotation = 0.5                      # electrodes either way (ring bands only); mirror, gain, noise

    [text]
    catalogs = ["armband"]              # description catalogs the prototypes come from
    steps = 150                         # stage-1 training steps; train_layers, model, ...

    [variant]
    name = "myosem"                     # or a baseline / ablation (see VARIANTS)

    [results]                           # the comparison `myostream results` runs
    protocols = ["random", "cross-user", "cross-class"]
    variants = ["myosem", "tcn", ...]

A plain model config works too when the data come from ``--data`` (format detected).
Everything is validated here, so a bad file is one clear sentence before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from myostream.checks import check_fields
from myostream.data.recording import NONFINITE
from myostream.errors import MyostreamError
from myostream.model.config import ModelConfig, config_dir, list_configs, load_config
from myostream.model.baselines import BACKBONES
from myostream.preprocess import NORMALISATIONS, FilterSpec
from myostream.train.augment import Augmentation
from myostream.stream.devices import load_profile

SOURCES = ("ninapro", "myo", "sessions", "xdf", "table", "simulated")
#: the data came as Recording objects (myostream.train.recordings), not from a folder
MEMORY = "memory"
#: [data] keys of the simulated source only.
_SIMULATED_KEYS = frozenset({"users", "sessions", "seconds", "seed", "schedule", "hold_s", "rest_s"})
#: [data] source of each dataset format (myostream.data.readers) that training reads.
_SOURCE_OF_FORMAT = {"ninapro": "ninapro", "myo-dat": "myo", "session": "sessions", "xdf": "xdf", "table": "table"}
SPLIT_PROTOCOLS = ("random", "cross-user", "cross-class", "repetition", "cross-dataset")
#: [data] keys a [test_data] table takes from [data] unless it sets them.
_INHERITED = ("window_ms", "hop_ms", "filter", "rest", "label", "classes", "channels", "normalisation", "ring",
              "nonfinite")


@dataclass(frozen=True)
class Variant:
    """One row of the comparison: an architecture plus the ablation switches.

    ``prototypes``: ``"stage1"`` (trained text encoder, all four views), ``"untrained"``
    (the same four-view recipe with the untrained encoder: the w/o stage-1 ablation) or
    ``"label"`` (the untrained encoder's embedding of the short label T0 alone: the
    text-side baseline, like a zero-shot class-name prompt).
    """

    name: str
    title: str
    group: str
    architecture: str = "myosem"
    descriptors: bool = True
    queries: bool = True
    prototypes: str = "stage1"


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("myosem", "MyoSem", "ours"),
        Variant("tcn", "TCN", "baseline", architecture="tcn"),
        Variant("cnn_bilstm", "CNN-BiLSTM", "baseline", architecture="cnn_bilstm"),
        Variant("atzori_cnn", "Atzori CNN", "baseline", architecture="atzori_cnn"),
        Variant("hudgins_linear", "Hudgins TD + linear", "baseline", architecture="hudgins_linear"),
        Variant("text_baseline", "Untrained text prototypes (label only)", "text baseline", prototypes="label"),
        Variant("no_descriptors", "w/o activation-aware descriptors", "ablation", descriptors=False),
        Variant("no_queries", "w/o semantic queries", "ablation", queries=False),
        Variant("no_stage1", "w/o stage-1 text training", "ablation", prototypes="untrained"),
    )
}
assert {v.architecture for v in VARIANTS.values()} <= {"myosem", *BACKBONES}


@dataclass(frozen=True)
class DataSpec:
    source: str
    window_ms: float
    hop_ms: float
    filter: FilterSpec | None
    filter_name: str
    folder: str | None = None
    rest: bool = True
    label: str = "majority"
    classes: tuple[str, ...] | None = None
    # recordings with different channel counts: "error", "select" (first common) or "pad" (zeros)
    channels: str = "error"
    # per-user normalisation of each wearing's filtered signal: none | channel | global (myostream.preprocess)
    normalisation: str = "none"
    # the electrodes form a ring (default: what the filter's device profile says)
    ring: bool = False
    # NaN or infinite samples in the files: "error" (name the first), "drop" or "interpolate"
    nonfinite: str = "error"
    # ninapro
    database: str | None = None
    exercises: tuple[int, ...] | None = None
    subjects: tuple[Any, ...] | None = None
    # myo
    sessions_filter: tuple[str, ...] | None = None
    # simulated
    users: tuple[int, ...] = ()
    sessions: int = 1
    seconds: float = 60.0
    seed: int = 0
    schedule: str = "random"
    hold_s: float = 3.0
    rest_s: float = 2.0


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    seed: int = 0
    test_fraction: float = 0.2
    folds: int = 1
    fold: int = 0
    test_subjects: tuple[str, ...] | None = None
    held_out_classes: tuple[str, ...] | None = None
    test_repetitions: tuple[int, ...] | None = None
    validation_fraction: float = 0.1
    # what validation holds out of training: "runs" (of every person) or "subjects" (whole people,
    # so the chosen epoch is the one that transfers best to people the model has not seen)
    validation: str = "runs"
    # after validation chose the epochs, train again on training + validation windows for that many
    refit: bool = False


@dataclass(frozen=True)
class TextSpec:
    catalogs: tuple[str, ...]
    model: str | None = None
    stage1: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    model: ModelConfig
    data: DataSpec
    protocol: ProtocolSpec
    text: TextSpec
    variant: Variant
    seed: int = 0
    results: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    #: the recordings that test under the cross-dataset protocol
    test_data: DataSpec | None = None
    #: how training batches are perturbed (the [augment] table)
    augment: Augmentation = field(default_factory=Augmentation)

    def with_variant(self, name: str) -> "Experiment":
        return replace(self, variant=variant(name))

    def with_protocol(self, name: str, fold: int | None = None) -> "Experiment":
        p = replace(self.protocol, name=_choice(name, SPLIT_PROTOCOLS, "protocol"))
        if fold is not None:
            p = replace(p, fold=int(fold))
        _check_protocol(p, f"Experiment {self.name!r}", self.test_data)
        return replace(self, protocol=p)

    def with_test_data(self, folder: str) -> "Experiment":
        """Test on the recordings in ``folder`` (format detected) under the cross-dataset protocol."""
        base = self.test_data or self.data
        spec = replace(base, source=_detect_source(Path(folder)), folder=str(folder))
        if spec.source != base.source:  # the other source's own settings do not apply
            spec = replace(spec, database=None, exercises=None, subjects=None, sessions_filter=None)
        return replace(self, test_data=spec, protocol=replace(self.protocol, name="cross-dataset"))

    def model_config(self) -> ModelConfig:
        """The model config with the variant's ablation switches applied."""
        v = self.variant
        return replace(self.model, descriptors=v.descriptors, queries=v.queries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of everything the run depended on (stored in the checkpoint)."""
        d = dataclasses.asdict(self)
        d["model"] = self.model.name
        for key in ("data", "test_data"):
            spec = getattr(self, key)
            if spec is not None:
                d[key]["filter"] = dataclasses.asdict(spec.filter) if spec.filter else None
        return d


def variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise MyostreamError(f"Unknown model variant {name!r}; choose one of {', '.join(VARIANTS)}.")
    return VARIANTS[name]


def experiment_dir() -> Path:
    return config_dir() / "experiments"


def list_experiments() -> list[str]:
    return sorted(p.stem for p in experiment_dir().glob("*.toml"))


def load_experiment(name_or_path: str | Path, data_folder: str | None = None) -> Experiment:
    """An experiment by name (``models/experiments/``), from a ``.toml`` path, or a model
    config name (``models/``) whose data come from ``data_folder``."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix != ".toml":
        candidate = experiment_dir() / f"{text}.toml"
        if candidate.is_file():
            path = candidate
        elif (config_dir() / f"{text}.toml").is_file():
            path = config_dir() / f"{text}.toml"
        else:
            raise MyostreamError(
                f"Unknown config {text!r}; choose an experiment ({', '.join(list_experiments())}), "
                f"a model config ({', '.join(list_configs())}) or give a path to a .toml file."
            )
    if not path.is_file():
        raise MyostreamError(f"Config {text!r} does not exist; give an experiment or model config .toml file.")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MyostreamError(f"Config {str(path)!r} is not valid TOML: {exc}.") from None
    return parse_experiment(raw, path, data_folder)


def parse_experiment(raw: dict[str, Any], path: Path, data_folder: str | None = None) -> Experiment:
    where = f"Config {str(path)!r}"
    known = {"name", "description", "model", "model_overrides", "seed", "data", "test_data", "protocol", "text",
             "variant", "results", "stage2", "stage3", "augment"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MyostreamError(f"{where} has unknown key(s) {', '.join(unknown)}; use only {', '.join(sorted(known))}.")
    model = _model_config(raw, path, where)
    seed = _int(raw.get("seed", 0), f"{where}: seed")
    data_table = _table(raw, "data", where)
    data = _data(data_table, model, where, data_folder)
    test_data = None
    if "test_data" in raw:
        test_table = _table(raw, "test_data", where)
        inherited = {k: data_table[k] for k in _INHERITED if k in data_table and k not in test_table}
        test_data = _data({**inherited, **test_table}, model, where, None, section="test_data")
    protocol = _protocol(_table(raw, "protocol", where), where, seed, test_data)
    text = _text(_table(raw, "text", where), data, where)
    var = _variant(_table(raw, "variant", where), where)
    results = _table(raw, "results", where)
    for key in results:
        if key not in ("protocols", "variants"):
            raise MyostreamError(f"{where} [results] has unknown key {key!r}; use protocols and variants.")
    for p in results.get("protocols", []):
        _check_protocol(replace(protocol, name=_choice(p, SPLIT_PROTOCOLS, f"{where} [results] protocol")), where, test_data)
    for v in results.get("variants", []):
        variant(v)
    return Experiment(
        name=str(raw.get("name", path.stem)),
        description=str(raw.get("description", "")),
        model=model,
        data=data,
        protocol=protocol,
        text=text,
        variant=var,
        seed=seed,
        results=results,
        path=str(path),
        test_data=test_data,
        augment=Augmentation.from_dict(_table(raw, "augment", where), where=f"{where} [augment]"),
    )


# ----------------------------------------------------------------------------- sections


def _model_config(raw: dict[str, Any], path: Path, where: str) -> ModelConfig:
    if isinstance(raw.get("model"), dict):  # a model config file itself
        return load_config(path)
    base = raw.get("model", raw.get("name", path.stem))
    if not isinstance(base, str):
        raise MyostreamError(f"{where}: model must name a model config (e.g. \"myosem-simulated\").")
    base_path = Path(base) if base.endswith(".toml") else None
    if base_path is not None and not base_path.is_absolute():
        base_path = path.parent / base_path
    model = load_config(base_path or base)
    changes: dict[str, Any] = {}
    for stage, cls in (("stage2", type(model.stage2)), ("stage3", type(model.stage3))):
        table = _table(raw, stage, where)
        if table:
            fields = {f.name for f in dataclasses.fields(cls)}
            bad = sorted(set(table) - fields)
            if bad:
                raise MyostreamError(f"{where} [{stage}] has unknown key(s) {', '.join(bad)}; use {', '.join(sorted(fields))}.")
            check_fields(cls, table, f"{where} [{stage}]")
            changes[stage] = replace(getattr(model, stage), **table)
    overrides = _table(raw, "model_overrides", where)
    fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "stage2", "stage3", "extra"}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise MyostreamError(f"{where} [model_overrides] has unknown key(s) {', '.join(bad)}; use {', '.join(sorted(fields))}.")
    check_fields(ModelConfig, overrides, f"{where} [model_overrides]")
    changes.update(overrides)
    if not changes:
        return model
    try:
        return replace(model, **changes)
    except TypeError as exc:
        raise MyostreamError(f"{where}: the model overrides do not fit ({exc}).") from None


def _data(t: dict[str, Any], model: ModelConfig, where: str, folder_override: str | None, section: str = "data") -> DataSpec:
    w = f"{where} [{section}]"
    t = dict(t)
    if folder_override == MEMORY:  # recordings given in memory: the [data] table's way of preparing them applies
        common = {"window_ms", "hop_ms", "filter", "rest", "label", "classes", "channels", "normalisation", "ring"}
        t = {"source": MEMORY, **{k: v for k, v in t.items() if k in common}}
    elif folder_override is not None:
        t["folder"] = folder_override
        if "source" not in t or t["source"] == "simulated":
            # the simulator's own settings (users, seconds, ...) do not apply to recorded files
            t = {k: v for k, v in t.items() if k not in _SIMULATED_KEYS}
            t["source"] = _detect_source(Path(folder_override))
    if "source" not in t:
        raise MyostreamError(
            f"{where} names no data; add a [{section}] table with source = {' | '.join(SOURCES)}, or pass --data DIR."
        )
    source = _choice(t.pop("source"), (*SOURCES, MEMORY) if folder_override == MEMORY else SOURCES, f"{w} source")
    allowed = {
        MEMORY: set(),
        "common": {"window_ms", "hop_ms", "filter", "rest", "label", "classes", "folder", "channels", "normalisation",
                   "ring", "nonfinite"},
        "ninapro": {"database", "exercise", "subjects"},
        "myo": {"subjects", "sessions"},
        "sessions": set(),
        "xdf": set(),  # stream choice and marker tables: the folder's dataset.toml
        "table": set(),  # rate, columns, labels: the folder's dataset.toml
        "simulated": set(_SIMULATED_KEYS),
    }
    bad = sorted(set(t) - allowed["common"] - allowed[source])
    if bad:
        raise MyostreamError(f"{w} has unknown key(s) {', '.join(bad)} for source {source!r}; use {', '.join(sorted(allowed['common'] | allowed[source]))}.")
    window_ms = _float(t.get("window_ms", model.window_ms), f"{w} window_ms")
    if abs(window_ms - model.window_ms) > 1e-6:
        raise MyostreamError(f"{w}: window_ms = {window_ms:g} but model {model.name!r} takes {model.window_ms:g} ms windows; leave window_ms out or change the model's.")
    hop_ms = _float(t.get("hop_ms", window_ms / 4), f"{w} hop_ms")
    filter_name, spec = _filter(t.get("filter", "none"), w)
    folder = t.get("folder")
    if source not in ("simulated", MEMORY) and not folder:
        raise MyostreamError(f"{w} needs folder = \"...\" for source {source!r} (or pass --data DIR).")
    label = _choice(t.get("label", "majority"), ("majority", "onset"), f"{w} label")
    classes = t.get("classes")
    common = dict(
        source=source,
        window_ms=window_ms,
        hop_ms=hop_ms,
        filter=spec,
        filter_name=filter_name,
        folder=None if folder is None else str(folder),
        rest=_bool(t.get("rest", True), f"{w} rest"),
        label=label,
        classes=None if classes is None else tuple(_strs(classes, f"{w} classes")),
        channels=_choice(t.get("channels", "error"), ("error", "select", "pad"), f"{w} channels"),
        normalisation=_choice(t.get("normalisation", "none"), NORMALISATIONS, f"{w} normalisation"),
        ring=_bool(t.get("ring", _profile_ring(filter_name)), f"{w} ring"),
        nonfinite=_choice(t.get("nonfinite", "error"), NONFINITE, f"{w} nonfinite"),
    )
    if source == "ninapro":
        exercise = t.get("exercise")
        exercises = None
        if exercise is not None:
            exercises = _ints(exercise if isinstance(exercise, list) else [exercise], f"{w} exercise")
        subjects = t.get("subjects")
        database = t.get("database")
        if database is not None and not isinstance(database, str):
            raise MyostreamError(f"{w} database must be a name such as \"db1\", got {database!r}.")
        numbers = None if subjects is None else _ints(subjects, f"{w} subjects (NinaPro subject numbers)")
        return DataSpec(**common, database=database, exercises=exercises, subjects=numbers)
    if source == "myo":
        subjects, sessions = t.get("subjects"), t.get("sessions")
        return DataSpec(**common, subjects=None if subjects is None else tuple(_strs(subjects, f"{w} subjects")),
                        sessions_filter=None if sessions is None else tuple(_strs(sessions, f"{w} sessions")))
    if source == "simulated":
        users = t.get("users", 4)
        users = _ints(users, f"{w} users") if isinstance(users, list) else tuple(range(_int(users, f"{w} users", 1)))
        if not users:
            raise MyostreamError(f"{w}: users must name at least one simulated user.")
        return DataSpec(
            **common,
            users=users,
            sessions=_int(t.get("sessions", 1), f"{w} sessions", 1),
            seconds=_float(t.get("seconds", 60.0), f"{w} seconds"),
            seed=_int(t.get("seed", 0), f"{w} seed"),
            schedule=_choice(t.get("schedule", "random"), ("cycle", "random"), f"{w} schedule"),
            hold_s=_float(t.get("hold_s", 3.0), f"{w} hold_s"),
            rest_s=_float(t.get("rest_s", 2.0), f"{w} rest_s"),
        )
    return DataSpec(**common)


def _detect_source(folder: Path) -> str:
    from myostream.data.readers import detect_dataset_format

    if not folder.is_dir():
        raise MyostreamError(f"Data folder {str(folder)!r} does not exist; pass --data with an existing dataset folder.")
    fmt = detect_dataset_format(folder)
    if fmt not in _SOURCE_OF_FORMAT:
        raise MyostreamError(
            f"Data folder {str(folder)!r} holds no NinaPro .mat, Myo classe_<i>.dat, session .h5, .xdf or table "
            f"(with a dataset.toml) files{f', only {fmt} recordings, which training does not read' if fmt else ''}."
        )
    return _SOURCE_OF_FORMAT[fmt]


def _profile_ring(filter_name: str) -> bool:
    """Whether the device profile the data's filter comes from says its electrodes form a ring."""
    if filter_name in ("none", "custom"):
        return False
    return load_profile(filter_name).ring


def _filter(value: Any, where: str) -> tuple[str, FilterSpec | None]:
    if value in (None, "none", False):
        return "none", None
    if isinstance(value, str):
        spec = load_profile(value).filter
        return value, spec
    if isinstance(value, dict):
        return "custom", FilterSpec.from_dict(value, where=f"{where} filter")
    raise MyostreamError(f"{where}: filter must be a device profile name, \"none\" or a table of filter settings.")


def _protocol(t: dict[str, Any], where: str, seed: int, test_data: DataSpec | None) -> ProtocolSpec:
    w = f"{where} [protocol]"
    fields = {f.name for f in dataclasses.fields(ProtocolSpec)}
    bad = sorted(set(t) - fields)
    if bad:
        raise MyostreamError(f"{w} has unknown key(s) {', '.join(bad)}; use {', '.join(sorted(fields))}.")
    t = dict(t)
    name = _choice(t.pop("name", "random"), SPLIT_PROTOCOLS, f"{w} name")
    for key in ("test_subjects", "held_out_classes"):
        if t.get(key) is not None:
            t[key] = tuple(_strs(t[key], f"{w} {key}"))
    if t.get("test_repetitions") is not None:
        t["test_repetitions"] = _ints(t["test_repetitions"], f"{w} test_repetitions")
    check_fields(ProtocolSpec, t, w)
    p = ProtocolSpec(name=name, **{"seed": seed, **t})
    _check_protocol(p, w, test_data)
    return p


def _check_protocol(p: ProtocolSpec, where: str, test_data: DataSpec | None) -> None:
    if p.name == "cross-dataset" and test_data is None:
        raise MyostreamError(
            f"{where}: the cross-dataset protocol needs the recordings to test on; add a [test_data] table "
            "(source = ..., folder = ...) or pass --test-data DIR."
        )
    if not 0 < p.test_fraction < 1:
        raise MyostreamError(f"{where}: test_fraction must lie between 0 and 1, got {p.test_fraction}.")
    if not 0 <= p.validation_fraction < 1:
        raise MyostreamError(f"{where}: validation_fraction must lie in [0, 1), got {p.validation_fraction}.")
    _choice(p.validation, ("runs", "subjects"), f"{where} validation")
    if p.folds < 1 or not 0 <= p.fold < p.folds:
        raise MyostreamError(f"{where}: fold {p.fold} does not exist; there are {p.folds} fold(s) (0..{p.folds - 1}).")


def _text(t: dict[str, Any], data: DataSpec, where: str) -> TextSpec:
    w = f"{where} [text]"
    t = dict(t)
    catalogs = t.pop("catalogs", None)
    if catalogs is None:
        catalogs = ["armband"] if data.source in ("simulated", "myo", "sessions") else ["armband", "ninapro"]
    model = t.pop("model", None)
    from myostream.text.stage1 import Stage1Config

    fields = {f.name for f in dataclasses.fields(Stage1Config)} - {"seed"}
    bad = sorted(set(t) - fields)
    if bad:
        raise MyostreamError(f"{w} has unknown key(s) {', '.join(bad)}; use catalogs, model or stage-1 settings {', '.join(sorted(fields))}.")
    check_fields(Stage1Config, t, w)
    Stage1Config(**t)  # validates the values with its own messages
    return TextSpec(catalogs=tuple(_strs(catalogs, f"{w} catalogs")), model=model, stage1=t)


def _variant(t: dict[str, Any], where: str) -> Variant:
    name = t.get("name", "myosem")
    bad = sorted(set(t) - {"name"})
    if bad:
        raise MyostreamError(f"{where} [variant] has unknown key(s) {', '.join(bad)}; use name = one of {', '.join(VARIANTS)}.")
    return variant(str(name))


# ----------------------------------------------------------------------------- helpers


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise MyostreamError(f"{where}: {key} must be a table ([{key}]).")
    return value


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``choices``; ``what`` is the key, after the file and table it is in."""
    if value not in choices:
        where, _, key = what.rpartition(" ")
        said = f"{where}: unknown {key}" if where else f"Unknown {key}"
        raise MyostreamError(f"{said} {value!r}; use one of {', '.join(choices)}.")
    return str(value)


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MyostreamError(f"{what} must be a whole number >= {minimum}, got {value!r}.")
    return value


def _float(value: Any, what: str) -> float:
    """A positive finite number (TOML may write it as an integer)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise MyostreamError(f"{what} must be a positive number, got {value!r}.")
    return float(value)


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise MyostreamError(f"{what} must be a list of whole numbers, got {value!r}.")
    return tuple(value)


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise MyostreamError(f"{what} must be true or false, got {value!r}.")
    return value


def _strs(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise MyostreamError(f"{what} must be a list of names, got {value!r}.")
    return [str(v) for v in value]
