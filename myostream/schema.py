"""One schema layer for every TOML file myostream reads.

Model configs, device profiles, calibration protocols, experiments, description catalogs
and dataset sidecars each declare their tables as pydantic models (subclasses of
:class:`Table`) next to the loader that builds the dataclass callers use. This module
owns what they share: reading a file as UTF-8 (:func:`read_toml`), checking a table
against its model (:func:`validate`) with unknown keys forbidden and TOML's types taken
at their word (an integer where a number is expected is fine; a string, a bool or NaN is
not), and turning what pydantic finds into one :class:`MyostreamError` sentence that
names the file, the table and the key::

    Config 'x.toml' [data] seconds must be a positive number, got 'twenty'.
    Config 'x.toml' [data] has unknown key 'colour'; allowed keys are channels, classes, ...

Values a file gives the wrong type are caught here; checks that relate values to each
other or to the world (a window that is no whole number of patches, a label a dataset
does not have) stay with the loaders.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, create_model
from pydantic.fields import FieldInfo

from myostream.errors import MyostreamError

__all__ = [
    "Table",
    "Says",
    "Number",
    "PositiveNumber",
    "NonNegativeNumber",
    "Whole",
    "Count",
    "Text",
    "table_for",
    "read_toml",
    "validate",
    "located",
]


@dataclasses.dataclass(frozen=True)
class Says:
    """``Annotated`` metadata: what a value must be, in words, where its type says too little."""

    text: str


class Table(BaseModel):
    """A TOML table: unknown keys are an error and values must have the declared type.

    Fields default to ``None`` where the dataclass the loader builds has its own default;
    :meth:`given` hands on only the keys the file set, so those defaults keep one owner.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    def given(self) -> dict[str, Any]:
        """The keys the file set (by field name) with their validated values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# The value kinds TOML files use. strict: an int is a number, a bool is neither; finite only.
Number = float
PositiveNumber = Annotated[float, Gt(0)]
NonNegativeNumber = Annotated[float, Ge(0)]
Whole = Annotated[int, Ge(0)]
Count = Annotated[int, Ge(1)]
#: non-empty once surrounding spaces are stripped (they are)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

M = TypeVar("M", bound=BaseModel)


def table_for(cls: type, *, exclude: Sequence[str] = (), optional: bool = False, **kinds: Any) -> type[Table]:
    """The table of the dataclass ``cls``: a key per field, typed by its annotation (or ``kinds``).

    Keys whose field has a default may be left out (the dataclass's default then applies, see
    :meth:`Table.given`); the others are required unless ``optional`` (a table of changes).
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        hint = kinds.get(f.name, hints[f.name])
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        fields[f.name] = (hint | None, None) if has_default or optional else (hint, ...)
    return create_model(
        f"{cls.__name__}Table", __base__=Table, __doc__=f"The keys of :class:`{cls.__name__}`.", **fields
    )


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The tables of the TOML file ``path``, read as UTF-8; ``what`` names its kind ("Device profile")."""
    where = f"{what} {str(path)!r}"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise MyostreamError(f"{where} does not exist.") from None
    except OSError as exc:
        raise MyostreamError(f"Cannot read {where}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise MyostreamError(
            f"{where} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MyostreamError(f"{where} is not valid TOML ({exc}); fix the syntax.") from None


def validate(table: type[M], data: Any, where: str, at: Sequence[str] = (), example: str = "") -> M:
    """``data`` checked against ``table``, or a :class:`MyostreamError` naming the file, table and key.

    ``where`` names the file ("Config 'x.toml'"), ``at`` the table ``data`` is in within it
    (``("data",)`` for ``[data]``), ``example`` a file to look at when a key is missing.
    """
    try:
        return table.model_validate(data)
    except ValidationError as exc:
        raise MyostreamError(_sentence(table, data, exc.errors(), where, list(at), example)) from None


def located(where: str, at: Sequence[str]) -> str:
    """``where`` followed by the table ``at`` points to: ``Config 'x.toml' [data.filter]``."""
    return f"{where} [{'.'.join(at)}]" if at else where


# ----------------------------------------------------------------------------- the sentence


def _sentence(table: type[BaseModel], data: Any, errors: Sequence[Any], where: str, at: list[str], example: str) -> str:
    # an unknown key first (a typo is the likely cause of the rest), then a missing one
    rank = {"extra_forbidden": 0, "missing": 1}
    first = min(errors, key=lambda e: rank.get(e["type"], 2))
    tables, key, hint = _locate(table, first["loc"])
    place = located(where, at + tables)
    same = [_locate(table, e["loc"]) for e in errors if e["type"] == first["type"]]
    keys = [k for t, k, _ in same if t == tables]
    if first["type"] == "extra_forbidden":
        allowed = sorted(f.alias or name for name, f in _model_at(table, tables).model_fields.items())
        return f"{place} has unknown key{'s' * (len(keys) > 1)} {_quoted(keys)}; allowed keys are {', '.join(allowed)}."
    see = f" (see {example})" if example else ""
    if first["type"] == "missing":
        if _table_of(hint) is not None:
            return f"{where} lacks a [{'.'.join(at + tables + [key])}] table; add it{see}."
        if len(keys) > 1:
            return f"{place} lacks the keys {_quoted(keys)}; add them{see}."
        return f"{place} lacks the key {key!r}; add it{see}."
    value = _value_at(data, tables, key)
    return f"{place} {key} must be {_kind(hint)}, got {value!r}."


def _locate(table: type[BaseModel], loc: Sequence[Any]) -> tuple[list[str], str, Any]:
    """(the tables, the key, its declared type) that error location ``loc`` points at.

    Sub-tables (model fields) and tables of tables (``dict[str, Model]``) are descended into;
    below a key (list indices, union members) the key itself is the place, as the user wrote it.
    """
    tables: list[str] = []
    current: type[BaseModel] | None = table
    i = 0
    while i < len(loc):
        part = loc[i]
        field = _field(current, part) if current is not None else None
        if field is None:  # an unknown key
            return tables, str(part), None
        hint = _hint(field)
        sub = _table_of(hint)
        if sub is not None and i + 1 < len(loc):
            tables.append(str(part))
            current, i = sub, i + 1
            continue
        origin, args = typing.get_origin(_strip(hint)), typing.get_args(_strip(hint))
        if origin is dict and i + 1 < len(loc):  # a key inside a table of named entries: cues.fist
            inner = args[1]
            if _table_of(inner) is not None and i + 2 < len(loc):
                tables += [str(part), str(loc[i + 1])]
                current, i = _table_of(inner), i + 2
                continue
            return tables, f"{part}.{loc[i + 1]}", inner
        return tables, str(part), hint
    return tables, "", None


def _field(table: type[BaseModel], key: Any) -> FieldInfo | None:
    for name, field in table.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _hint(field: FieldInfo) -> Any:
    """The field's type with its constraints (pydantic keeps them apart)."""
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _model_at(table: type[BaseModel], tables: list[str]) -> type[BaseModel]:
    current = table
    i = 0
    while i < len(tables):
        hint = _strip(_hint(_field(current, tables[i])))  # type: ignore[arg-type]
        sub = _table_of(hint)
        if sub is None:  # dict[str, Model]: skip the entry's name
            sub, i = _table_of(typing.get_args(hint)[1]), i + 1
        current, i = sub, i + 1  # type: ignore[assignment]
    return current


def _strip(hint: Any) -> Any:
    """``hint`` without ``Annotated`` and ``| None`` (TOML has no null)."""
    if typing.get_origin(hint) is Annotated:
        return _strip(typing.get_args(hint)[0])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return hint


def _table_of(hint: Any) -> type[BaseModel] | None:
    hint = _strip(hint)
    return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None


def _value_at(data: Any, tables: list[str], key: str) -> Any:
    for part in [*tables, *key.split(".", 1)]:
        data = data.get(part) if isinstance(data, dict) else None
    return data


_KINDS = {
    bool: ("true or false", "true or false values"),
    int: ("a whole number", "whole numbers"),
    float: ("a number", "numbers"),
    str: ("a text in quotes", "texts"),
}


def _kind(hint: Any, plural: bool = False) -> str:
    """What a value of type ``hint`` is, in words: "a whole number >= 1", "one of a, b"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _bounded(_kind(args[0], plural), args[1:])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a, plural) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin is list:
        return f"{'lists' if plural else 'a list'} of {_kind(args[0], plural=True)}"
    if origin is dict or _table_of(hint) is not None:
        return "tables" if plural else "a table"
    return _KINDS[hint][plural] if hint in _KINDS else ("values" if plural else "a value")


def _bounded(kind: str, metadata: Sequence[Any]) -> str:
    bounds = []
    for meta in metadata:
        for item in meta.metadata if isinstance(meta, FieldInfo) else [meta]:
            if isinstance(item, Says):
                return item.text
            for cls, name, sign in ((Gt, "gt", ">"), (Ge, "ge", ">="), (Lt, "lt", "<"), (Le, "le", "<=")):
                if isinstance(item, cls):
                    bounds.append(f"{sign} {getattr(item, name)}")
            if getattr(item, "min_length", None) == 1:
                kind = {"a text in quotes": "a non-empty text", "texts": "non-empty texts"}.get(kind, kind)
                kind = kind.replace("a list", "a non-empty list", 1)
    if bounds == ["> 0"] and kind in ("a number", "a whole number"):
        return kind.replace("a ", "a positive ", 1)
    return " ".join([kind, " and ".join(bounds)]) if bounds else kind


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(repr(k) for k in keys)
