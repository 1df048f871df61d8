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

    [adapt]                             # how `myostream adapt` calibrates this base by default
    lda_weight = 0.5                    # (myostream.train.adapt.AdaptOptions: mode, anchor_weight,
                                        # lda_weight, gain, noise); unset keys: AdaptOptions' defaults

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, get_args

from annotated_types import Ge, Le

from myostream.data.windows import ChannelMode, LabelMode
from myostream.errors import MyostreamError
from myostream.model.baselines import BACKBONES
from myostream.model.config import ModelConfig, Stage2Table, Stage3Table, config_dir, list_configs, load_config
from myostream.preprocess import FilterSpec, Normalisation
from myostream.records import NonFinite
from myostream.schema import (
    Count,
    NonNegativeNumber,
    PositiveNumber,
    Says,
    Table,
    Whole,
    read_toml,
    table_for,
    validate,
)
from myostream.stream.devices import load_profile
from myostream.text.stage1 import Stage1Config
from myostream.train.augment import Augmentation, AugmentTable

DataSource = Literal["ninapro", "myo", "sessions", "xdf", "table", "simulated"]
SOURCES: tuple[str, ...] = get_args(DataSource)
#: the data came as Recording objects (myostream.train.recordings), not from a folder
MEMORY = "memory"
#: [data] source of each dataset format (myostream.data.readers) that training reads.
_SOURCE_OF_FORMAT = {"ninapro": "ninapro", "myo-dat": "myo", "session": "sessions", "xdf": "xdf", "table": "table"}
#: how a calibration adapts a base (myostream.train.adapt.AdaptOptions.mode)
CalibrationMode = Literal["anchors", "finetune", "finetune+anchors"]
SplitProtocol = Literal["random", "cross-user", "cross-class", "repetition", "cross-dataset"]
SPLIT_PROTOCOLS: tuple[str, ...] = get_args(SplitProtocol)
#: [data] keys a [test_data] table takes from [data] unless it sets them.
_INHERITED = (
    "window_ms",
    "hop_ms",
    "filter",
    "rest",
    "label",
    "classes",
    "channels",
    "normalisation",
    "ring",
    "nonfinite",
)


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
    label: LabelMode = "majority"
    classes: tuple[str, ...] | None = None
    # recordings with different channel counts: "error", "select" (first common) or "pad" (zeros)
    channels: ChannelMode = "error"
    # per-user normalisation of each wearing's filtered signal: none | channel | global (myostream.preprocess)
    normalisation: str = "none"
    # the electrodes form a ring (default: what the filter's device profile says)
    ring: bool = False
    # NaN or infinite samples in the files: "error" (name the first), "drop" or "interpolate"
    nonfinite: NonFinite = "error"
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
    #: the calibration settings this base's validation chose (the [adapt] table: AdaptOptions
    #: keys); recorded in the checkpoint, where `myostream adapt` takes its defaults from
    adapt: dict[str, Any] = field(default_factory=dict)

    def with_variant(self, name: str) -> Experiment:
        return replace(self, variant=variant(name))

    def with_protocol(self, name: str, fold: int | None = None) -> Experiment:
        p = replace(self.protocol, name=_choice(name, SPLIT_PROTOCOLS, "protocol"))
        if fold is not None:
            p = replace(p, fold=int(fold))
        _check_protocol(p, f"Experiment {self.name!r}", self.test_data)
        return replace(self, protocol=p)

    def with_test_data(self, folder: str) -> Experiment:
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
    return parse_experiment(read_toml(path, "Config"), path, data_folder)


# ----------------------------------------------------------------------------- the file


FilterSetting = Annotated[str | dict[str, Any], Says('a device profile name, "none" or a table of filter settings')]


class DataTable(Table):
    """``[data]`` (and ``[test_data]``) keys of every source; unset keys keep :class:`DataSpec`'s defaults."""

    source: DataSource | None = None
    window_ms: PositiveNumber | None = None
    hop_ms: PositiveNumber | None = None
    filter: FilterSetting | None = None
    rest: bool | None = None
    label: Literal["majority", "onset"] | None = None
    classes: list[str | int] | None = None
    folder: str | None = None
    channels: Literal["error", "select", "pad"] | None = None
    normalisation: Normalisation | None = None
    ring: bool | None = None
    nonfinite: NonFinite | None = None


class NinaproTable(DataTable):
    database: str | None = None
    exercise: int | list[int] | None = None
    subjects: Annotated[list[int], Says("a list of whole numbers (NinaPro subject numbers)")] | None = None


class MyoTable(DataTable):
    subjects: list[str | int] | None = None
    sessions: list[str | int] | None = None


class SimulatedTable(DataTable):
    users: Count | list[int] | None = None
    sessions: Count | None = None
    seconds: PositiveNumber | None = None
    seed: Whole | None = None
    schedule: Literal["cycle", "random"] | None = None
    hold_s: PositiveNumber | None = None
    rest_s: PositiveNumber | None = None


#: the [data] table of each source (xdf and table recordings describe themselves in a dataset.toml)
DATA_TABLES: dict[str, type[DataTable]] = {"ninapro": NinaproTable, "myo": MyoTable, "simulated": SimulatedTable}
#: [data] keys of the simulated source only
_SIMULATED_KEYS = SimulatedTable.model_fields.keys() - DataTable.model_fields.keys()


class ProtocolTable(Table):
    """``[protocol]``; unset keys keep :class:`ProtocolSpec`'s defaults (seed: the experiment's)."""

    name: SplitProtocol = "random"
    seed: Whole | None = None
    test_fraction: float | None = None
    folds: int | None = None
    fold: int | None = None
    test_subjects: list[str | int] | None = None
    held_out_classes: list[str | int] | None = None
    test_repetitions: list[int] | None = None
    validation_fraction: float | None = None
    validation: Literal["runs", "subjects"] | None = None
    refit: bool | None = None


class TextTable(table_for(Stage1Config, exclude=("seed",))):  # type: ignore[misc]
    """``[text]``: the description catalogs, the text model and the stage-1 settings (:class:`Stage1Config`)."""

    catalogs: list[str] | None = None
    model: str | None = None


if TYPE_CHECKING:
    # the variants are a registry (VARIANTS), checked by pydantic at run time; to a type checker a name
    VariantName: TypeAlias = str
    #: ``[model_overrides]``: built by table_for at run time (see model/config.py)
    ModelOverrides: TypeAlias = Table
else:
    VariantName = Literal[tuple(VARIANTS)]
    #: ``[model_overrides]``: changes to the model config's keys
    ModelOverrides = table_for(ModelConfig, exclude=("name", "stage2", "stage3", "extra"), optional=True)


class VariantTable(Table):
    name: VariantName = "myosem"


class ResultsTable(Table):
    """``[results]``: the comparison `myostream results` runs."""

    protocols: list[SplitProtocol] | None = None
    variants: list[VariantName] | None = None


class AdaptTable(Table):
    """``[adapt]``: calibration defaults of the bases this experiment trains (keys of
    :class:`myostream.train.adapt.AdaptOptions`)."""

    mode: CalibrationMode | None = None
    anchor_weight: Annotated[float, Ge(0), Le(1)] | None = None
    lda_weight: NonNegativeNumber | None = None
    gain: NonNegativeNumber | None = None
    noise: NonNegativeNumber | None = None


class ExperimentFile(Table):
    """An experiment file (see the module docstring); a model config file is one too."""

    name: str | None = None
    description: str = ""
    model: Annotated[str | dict[str, Any], Says("the name or .toml path of the model config it extends")] | None = None
    seed: Whole = 0
    model_overrides: ModelOverrides = ModelOverrides()
    stage2: Stage2Table = Stage2Table()
    stage3: Stage3Table = Stage3Table()
    data: dict[str, Any] = {}
    test_data: dict[str, Any] | None = None
    protocol: ProtocolTable = ProtocolTable()
    text: TextTable = TextTable()
    variant: VariantTable = VariantTable()
    results: ResultsTable = ResultsTable()
    augment: AugmentTable = AugmentTable()
    adapt: AdaptTable = AdaptTable()


def parse_experiment(raw: dict[str, Any], path: Path, data_folder: str | None = None) -> Experiment:
    where = f"Config {str(path)!r}"
    file = validate(ExperimentFile, raw, where)
    model = _model_config(file, path)
    data = _data(file.data, model, where, data_folder)
    test_data = None
    if file.test_data is not None:
        inherited = {k: file.data[k] for k in _INHERITED if k in file.data and k not in file.test_data}
        test_data = _data({**inherited, **file.test_data}, model, where, None, section="test_data")
    protocol = _protocol(file.protocol, where, file.seed, test_data)
    results = file.results.given()
    for p in results.get("protocols", []):
        _check_protocol(replace(protocol, name=p), f"{where} [results]", test_data)
    return Experiment(
        name=file.name or path.stem,
        description=file.description,
        model=model,
        data=data,
        protocol=protocol,
        text=_text(file.text, data),
        variant=variant(file.variant.name),
        seed=file.seed,
        results=results,
        path=str(path),
        test_data=test_data,
        augment=Augmentation(**file.augment.given()),
        adapt=_adapt(file.adapt),
    )


# ----------------------------------------------------------------------------- sections


def _model_config(file: ExperimentFile, path: Path) -> ModelConfig:
    if isinstance(file.model, dict):  # a model config file itself
        return load_config(path)
    base = file.model or file.name or path.stem
    base_path = Path(base) if base.endswith(".toml") else None
    if base_path is not None and not base_path.is_absolute():
        base_path = path.parent / base_path
    model = load_config(base_path or base)
    changes = file.model_overrides.given()
    for stage in ("stage2", "stage3"):
        if table := getattr(file, stage).given():
            changes[stage] = replace(getattr(model, stage), **table)
    return replace(model, **changes) if changes else model


def _data(
    t: dict[str, Any], model: ModelConfig, where: str, folder_override: str | None, section: str = "data"
) -> DataSpec:
    t = dict(t)
    source = t.get("source")
    if folder_override == MEMORY:  # recordings given in memory: the [data] table's way of preparing them applies
        shared = {"window_ms", "hop_ms", "filter", "rest", "label", "classes", "channels", "normalisation", "ring"}
        t, source = {k: v for k, v in t.items() if k in shared}, MEMORY
    elif folder_override is not None:
        t["folder"] = folder_override
        if source is None or source == "simulated":
            # the simulator's own settings (users, seconds, ...) do not apply to recorded files
            t = {k: v for k, v in t.items() if k not in _SIMULATED_KEYS}
            t["source"] = source = _detect_source(Path(folder_override))
    elif source is None:
        raise MyostreamError(
            f"{where} names no data; add a [{section}] table with source = {' | '.join(SOURCES)}, or pass --data DIR."
        )
    if source not in (*SOURCES, MEMORY):  # an unknown source first: it decides which keys the table takes
        validate(DataTable, {"source": source}, where, at=(section,))
    given = validate(DATA_TABLES.get(source, DataTable), t, where, at=(section,)).given()
    w = f"{where} [{section}]"
    window_ms = float(given.get("window_ms", model.window_ms))
    if abs(window_ms - model.window_ms) > 1e-6:
        raise MyostreamError(
            f"{w}: window_ms = {window_ms:g} but model {model.name!r} takes {model.window_ms:g} ms windows; leave window_ms out or change the model's."
        )
    filter_name, spec = _filter(given.get("filter", "none"), where, section)
    if source not in ("simulated", MEMORY) and not given.get("folder"):
        raise MyostreamError(f'{w} needs folder = "..." for source {source!r} (or pass --data DIR).')
    common: dict[str, Any] = dict(
        source=source,
        window_ms=window_ms,
        hop_ms=float(given.get("hop_ms", window_ms / 4)),
        filter=spec,
        filter_name=filter_name,
        ring=given.get("ring", _profile_ring(filter_name)),
        **{k: given[k] for k in ("folder", "rest", "label", "channels", "normalisation", "nonfinite") if k in given},
    )
    if "classes" in given:
        common["classes"] = tuple(str(c) for c in given["classes"])
    if source == "ninapro":
        exercise, subjects = given.get("exercise"), given.get("subjects")
        exercises = None if exercise is None else tuple(exercise if isinstance(exercise, list) else [exercise])
        return DataSpec(
            **common,
            database=given.get("database"),
            exercises=exercises,
            subjects=None if subjects is None else tuple(subjects),
        )
    if source == "myo":
        subjects, sessions = given.get("subjects"), given.get("sessions")
        return DataSpec(
            **common,
            subjects=None if subjects is None else tuple(str(s) for s in subjects),
            sessions_filter=None if sessions is None else tuple(str(s) for s in sessions),
        )
    if source == "simulated":
        users = given.pop("users", 4)
        users = tuple(users) if isinstance(users, list) else tuple(range(users))
        if not users:
            raise MyostreamError(f"{w}: users must name at least one simulated user.")
        return DataSpec(**common, users=users, **{k: given[k] for k in _SIMULATED_KEYS if k in given})
    return DataSpec(**common)


def _detect_source(folder: Path) -> str:
    from myostream.data.readers import detect_dataset_format

    if not folder.is_dir():
        raise MyostreamError(
            f"Data folder {str(folder)!r} does not exist; pass --data with an existing dataset folder."
        )
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


def _filter(value: str | dict[str, Any], where: str, section: str) -> tuple[str, FilterSpec | None]:
    if value == "none":
        return "none", None
    if isinstance(value, str):
        return value, load_profile(value).filter
    return "custom", FilterSpec.from_dict(value, where, at=(section, "filter"))


def _protocol(t: ProtocolTable, where: str, seed: int, test_data: DataSpec | None) -> ProtocolSpec:
    settings = {"seed": seed, **t.given(), "name": t.name}
    for key in ("test_subjects", "held_out_classes"):  # names (NinaPro subjects may be given as numbers)
        if key in settings:
            settings[key] = tuple(str(name) for name in settings[key])
    if "test_repetitions" in settings:
        settings["test_repetitions"] = tuple(settings["test_repetitions"])
    p = ProtocolSpec(**settings)
    _check_protocol(p, f"{where} [protocol]", test_data)
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


def _adapt(t: AdaptTable) -> dict[str, Any]:
    return dict(sorted(t.given().items()))  # one order in every record, whatever the set's


def _text(t: TextTable, data: DataSpec) -> TextSpec:
    stage1 = {k: v for k, v in t.given().items() if k not in ("catalogs", "model")}
    Stage1Config(**stage1)  # checks the values with its own messages
    catalogs = t.catalogs
    if catalogs is None:
        catalogs = ["armband"] if data.source in ("simulated", "myo", "sessions") else ["armband", "ninapro"]
    return TextSpec(catalogs=tuple(catalogs), model=t.model, stage1=stage1)


# ----------------------------------------------------------------------------- helpers


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``choices``; ``what`` is the key, after the file and table it is in."""
    if value not in choices:
        where, _, key = what.rpartition(" ")
        said = f"{where}: unknown {key}" if where else f"Unknown {key}"
        raise MyostreamError(f"{said} {value!r}; use one of {', '.join(choices)}.")
    return str(value)
