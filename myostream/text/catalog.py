"""Description catalogs: the four text views of every action class (MyoSem stage 1).

A catalog is a TOML file in ``models/descriptions/`` with a ``[catalog]`` table and
one ``[[class]]`` table per action class::

    [catalog]
    name = "armband"
    description = "..."
    glove = "glove/ninapro_db1.json"   # optional: glove-derived T1 texts

    [[class]]
    id = "fist"                         # the class id used as label name everywhere
    T0 = "fist"                         # short label
    T1 = "Starting from ..."            # process: start -> end posture, over time
    T2 = "A closed fist ..."            # canonical: what it is, what sets it apart
    T3 = ["make a fist", "...", "..."]  # >= 3 paraphrases a person might type
    labels = { myo_armband = [5], simulated_armband = [1] }

``labels`` maps a dataset to the dataset's own labels for the class. For the datasets the
project knows (:data:`LABEL_SPACES`) every label is checked to exist; any other dataset
name (a lab's own recordings) is taken as given, so its labels reach the catalog's class
ids through :meth:`Catalog.label_map` and :func:`myostream.records.relabel`. ``T1 = "glove"`` (or no T1) takes the process text generated from
CyberGlove recordings (:mod:`myostream.text.glove`) from the catalog's ``glove`` file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from myostream.errors import MyostreamError
from myostream.records import CLASS_ID, is_class_id
from myostream.resources import resource_dir
from myostream.schema import Says, Table, Text, read_toml, validate

VIEWS = ("T0", "T1", "T2", "T3")
MIN_PARAPHRASES = 3
GLOVE_T1 = "glove"

# Stage names exactly as in the emg2pose files' `stage` attribute (facebookresearch/emg2pose).
EMG2POSE_STAGES = (
    "AllFingerPinchesThumbSwipeThumbRotate",
    "CoffeePanicPete",
    "CountingUpDownFaceSideAway",
    "CountingUpDownFingerWigglingSpreading",
    "DoorknobFingerGraspFistGrab",
    "FastPongFronthandBackhandThrowing",
    "FingerAbductionSeries",
    "FingerFreeform",
    "FingerPinchesSingleFingerPinchesMultiple",
    "FingerTouchPalmClapmrburns",
    "FingerWigglingSpreading",
    "GraspPunchCloseFar",
    "HandClawGraspFlicks",
    "HandDeskSeparateClaspedChest",
    "HandOverHandAllFingerPinchesThumbSwipeThumbRotate",
    "HandOverHandCountingUpDownFingerWigglingSpreading",
    "unconstrained",
    "HookEmHornsOKScissors",
    "IndexPinchesMiddlePinchesThumbswipes",
    "IndividualFingerPointingSnap",
    "OneHandedFreeStyle",
    "PlayBlocksChess",
    "PokeDrawPinchRotateclosefar",
    "PokePinchCloseFar",
    "ShakaVulcanPeace",
    "ThumbsSwipesWholeHand",
    "ThumbsUpDownThumbRotationsCWCCWP",
    "TwoHandedFreeStyle",
    "WristFlexionAbduction",
)

# The label values each dataset uses, so a catalog cannot map a label that does not exist.
LABEL_SPACES: Mapping[str, tuple[int | str, ...]] = MappingProxyType(
    {
        "myo_armband": tuple(range(7)),  # file classe_i.dat -> i % 7
        "simulated_armband": tuple(range(9)),  # default SimulatedArmband label_names
        "ninapro_db1_e1": tuple(range(13)),  # DB1 labels restart in every exercise file
        "ninapro_db1_e2": tuple(range(18)),
        "ninapro_db1_e3": tuple(range(24)),
        "ninapro_db2": tuple(range(50)),  # DB2/DB3 number movements continuously
        "ninapro_db3": tuple(range(50)),
        "emg2pose": EMG2POSE_STAGES,
    }
)


@dataclass(frozen=True)
class ActionClass:
    """One action class with its four views and its labels in each dataset."""

    id: str
    t0: str
    t1: str
    t2: str
    t3: tuple[str, ...]
    labels: Mapping[str, tuple[int | str, ...]] = field(default_factory=dict)
    t1_source: str = "written"  # "written" or "glove"
    catalog: str = ""

    def views(self) -> dict[str, tuple[str, ...]]:
        """The texts of each view, keyed "T0".."T3" (T0-T2 hold one text each)."""
        return {"T0": (self.t0,), "T1": (self.t1,), "T2": (self.t2,), "T3": self.t3}

    def texts(self) -> list[str]:
        return [text for texts in self.views().values() for text in texts]


@dataclass(frozen=True)
class Catalog:
    """An ordered set of action classes (one file, or several merged)."""

    name: str
    classes: tuple[ActionClass, ...]
    description: str = ""
    sources: tuple[Path, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self) -> Iterator[ActionClass]:
        return iter(self.classes)

    def __contains__(self, class_id: object) -> bool:
        return class_id in self.ids

    def __getitem__(self, class_id: str) -> ActionClass:
        for c in self.classes:
            if c.id == class_id:
                return c
        raise MyostreamError(
            f"Class {class_id!r} is not in catalog {self.name!r}; its classes are {', '.join(self.ids)}."
        )

    def index(self, class_id: str) -> int:
        return self.ids.index(self[class_id].id)

    def subset(self, class_ids: Iterable[str], name: str | None = None) -> Catalog:
        """The given classes, in the given order."""
        return replace(self, name=name or self.name, classes=tuple(self[i] for i in class_ids))

    def label_map(self, dataset: str) -> dict[int | str, str]:
        """Dataset label -> class id, for the classes that key to ``dataset``."""
        mapping = {label: c.id for c in self.classes for label in c.labels.get(dataset, ())}
        if not mapping:
            known = sorted({d for c in self.classes for d in c.labels})
            raise MyostreamError(
                f"No class of catalog {self.name!r} maps labels of dataset {dataset!r}; "
                f"datasets mapped: {', '.join(known)} (add labels = {{ {dataset} = [...] }})."
            )
        return mapping


def catalog_dir() -> Path:
    """The folder of the shipped catalogs."""
    return resource_dir("models") / "descriptions"


def catalog_names() -> list[str]:
    """Names of the shipped catalogs (file stems)."""
    return sorted(p.stem for p in catalog_dir().glob("*.toml"))


def load_catalog(name_or_path: str | Path) -> Catalog:
    """Load and validate one catalog, by shipped name (``"armband"``) or TOML path."""
    path = _resolve(name_or_path)
    return _parse(read_toml(path, "Description catalog"), path)


def load_catalogs(names: Sequence[str | Path] | None = None) -> Catalog:
    """Load several catalogs (default: all shipped) merged into one; ids must not repeat."""
    names = list(names) if names is not None else catalog_names()
    if not names:
        raise MyostreamError(f"No description catalogs found in {catalog_dir()}; reinstall myostream.")
    catalogs = [load_catalog(n) for n in names]
    merged = Catalog(
        name="+".join(c.name for c in catalogs),
        classes=tuple(c for cat in catalogs for c in cat.classes),
        description="; ".join(c.description for c in catalogs if c.description),
        sources=tuple(p for c in catalogs for p in c.sources),
    )
    _check_unique(merged.classes, where=f"Description catalogs {', '.join(str(p) for p in merged.sources)}")
    return merged


def catalog_for(class_ids: Iterable[str], catalogs: Catalog | None = None) -> Catalog:
    """The classes named by ``class_ids`` (e.g. a recording's label_names), in that order."""
    pool = catalogs if catalogs is not None else load_catalogs()
    ids = list(class_ids)
    missing = [i for i in ids if i not in pool]
    if missing:
        raise MyostreamError(
            f"No description for class id(s) {', '.join(map(repr, missing))} in catalogs {pool.name}; "
            f"add them to a catalog in {catalog_dir()} or use known ids."
        )
    return pool.subset(ids, name=f"{pool.name}[{len(ids)}]")


def hold_out_paraphrases(catalog: Catalog, per_class: int = 1) -> tuple[Catalog, list[tuple[str, str]]]:
    """Split off the last ``per_class`` paraphrases of every class as (text, class id) queries.

    The returned catalog keeps the remaining paraphrases, so prototypes and training
    built from it never see the queries.
    """
    if per_class < 1:
        raise MyostreamError(f"per_class must be at least 1, got {per_class}.")
    kept: list[ActionClass] = []
    queries: list[tuple[str, str]] = []
    for c in catalog.classes:
        if len(c.t3) <= per_class:
            raise MyostreamError(
                f"Class {c.id!r} has {len(c.t3)} paraphrases; holding out {per_class} would leave none to train on."
            )
        kept.append(replace(c, t3=c.t3[:-per_class]))
        queries.extend((text, c.id) for text in c.t3[-per_class:])
    return replace(catalog, classes=tuple(kept)), queries


# ----------------------------------------------------------------------------- parsing


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise MyostreamError(
                f"Description catalog {str(path)!r} does not exist; give a .toml file or a shipped name."
            )
        return path
    path = catalog_dir() / f"{text}.toml"
    if not path.is_file():
        raise MyostreamError(
            f"Unknown description catalog {text!r}; shipped catalogs are {', '.join(catalog_names())}."
        )
    return path


class CatalogHeader(Table):
    name: str | None = None
    description: str = ""
    #: glove-derived T1 texts (``myostream describe glove``), relative to the catalog
    glove: str | None = None


class CatalogFile(Table):
    """A description catalog: a ``[catalog]`` table and ``[[class]]`` tables (checked one by one)."""

    catalog: CatalogHeader = CatalogHeader()
    classes: list[dict[str, Any]] = Field([], alias="class")


class ClassTable(Table):
    """One ``[[class]]`` table."""

    id: Annotated[str, StringConstraints(pattern=CLASS_ID.pattern), Says("a class id of letters, digits, '_' and '.'")]
    T0: Text
    T1: Text | None = None  # None or "glove": the glove-derived text
    T2: Text
    T3: list[Text]
    labels: dict[str, Annotated[list[int | str] | int | str, Says("a list of whole numbers or texts")]] = {}


def _parse(raw: dict[str, Any], path: Path) -> Catalog:
    where = f"Description catalog {str(path)!r}"
    file = validate(CatalogFile, raw, where)
    if not file.classes:
        raise MyostreamError(f"{where} has no [[class]] tables; add at least one class.")
    name = file.catalog.name or path.stem
    glove = _glove_texts(file.catalog.glove, path)
    classes = []
    for n, entry in enumerate(file.classes, 1):
        class_id = entry.get("id")
        named = f"class {class_id!r}" if isinstance(class_id, str) and is_class_id(class_id) else f"class #{n}"
        table = validate(ClassTable, entry, f"{where}: {named}", example="models/descriptions/armband.toml")
        classes.append(_parse_class(table, f"{where}: {named}", glove, name))
    _check_unique(classes, where=where)
    _check_texts_distinct(classes, where)
    return Catalog(name=name, classes=tuple(classes), description=file.catalog.description, sources=(path,))


def _parse_class(entry: ClassTable, where: str, glove: dict[str, str] | None, catalog: str) -> ActionClass:
    t1, t1_source = entry.T1, "written"
    if t1 is None or t1 == GLOVE_T1:
        if glove is None or entry.id not in glove:
            raise MyostreamError(
                f"{where} takes T1 from glove-derived text but the catalog has none for it; "
                "write T1, or generate it with `myostream describe glove` and name the file in [catalog] glove."
            )
        t1, t1_source = glove[entry.id].strip(), "glove"
    if len(entry.T3) < MIN_PARAPHRASES:
        raise MyostreamError(f"{where} has {len(entry.T3)} paraphrase(s) in T3; write at least {MIN_PARAPHRASES}.")
    if len({t.lower() for t in entry.T3}) != len(entry.T3):
        raise MyostreamError(f"{where} repeats a paraphrase in T3; make every paraphrase different.")
    return ActionClass(
        id=entry.id,
        t0=entry.T0,
        t1=t1,
        t2=entry.T2,
        t3=tuple(entry.T3),
        labels=MappingProxyType(_labels(entry.labels, where)),
        t1_source=t1_source,
        catalog=catalog,
    )


def _labels(raw: dict[str, list[int | str] | int | str], where: str) -> dict[str, tuple[int | str, ...]]:
    """Each dataset's labels, checked against the label space of the datasets the project knows."""
    labels = {}
    for dataset, values in raw.items():
        values = values if isinstance(values, list) else [values]
        space = LABEL_SPACES.get(dataset)
        for value in values:
            if space is not None and value not in space:
                raise MyostreamError(f"{where} maps {dataset} label {value!r}, which that dataset does not have.")
        labels[dataset] = tuple(values)
    return labels


def _check_unique(classes: Sequence[ActionClass], where: str) -> None:
    owner: dict[str, ActionClass] = {}
    for c in classes:
        if c.id in owner:
            raise MyostreamError(f"{where}: class id {c.id!r} is defined twice; ids must be unique.")
        owner[c.id] = c
    label_owner: dict[tuple[str, int | str], str] = {}
    for c in classes:
        for dataset, values in c.labels.items():
            for value in values:
                other = label_owner.setdefault((dataset, value), c.id)
                if other != c.id:
                    raise MyostreamError(
                        f"{where}: {dataset} label {value!r} is mapped to both class {other!r} and class {c.id!r}; "
                        "a dataset label must name one class."
                    )


def _check_texts_distinct(classes: Sequence[ActionClass], where: str) -> None:
    owner: dict[str, str] = {}
    for c in classes:
        for text in set(t.lower() for t in c.texts()):
            other = owner.setdefault(text, c.id)
            if other != c.id:
                raise MyostreamError(
                    f"{where}: class {c.id!r} reuses the text {text!r} of class {other!r}; "
                    "a description must point to one class."
                )


def _glove_texts(value: object, path: Path) -> dict[str, str] | None:
    if value is None:
        return None
    glove_path = path.parent / str(value)
    try:
        data = json.loads(glove_path.read_text(encoding="utf-8"))
        return {class_id: entry["text"] for class_id, entry in data["classes"].items() if entry.get("text")}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MyostreamError(
            f"Description catalog {str(path)!r}: glove-derived text file {glove_path} is unreadable ({exc}); "
            "regenerate it with `myostream describe glove`."
        ) from exc
