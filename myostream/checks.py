"""Value checks shared by every config boundary (model configs, experiments, stage-1 settings).

TOML gives strings, numbers, booleans and lists; a dataclass built from it must get the
types its fields declare, or a wrong value (``seconds = "twenty"``) would surface later as
a numpy or torch traceback far from the file. :func:`check_fields` compares a table with
a dataclass's annotations and names the file, the key and what to write instead.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from myostream.errors import MyostreamError

_KINDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a text in quotes",
}


def _fits(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # TOML writes 3 for 3.0
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


def check_fields(cls: type, values: Mapping[str, Any], where: str) -> None:
    """Raise one sentence when a value does not have the type field ``cls.<key>`` declares.

    Plain ``bool``/``int``/``float``/``str`` fields and their ``| None`` forms are checked;
    fields of other types (tables, tuples) are left to their own parsers.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        hint = hints[f.name]
        optional = False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            if len(args) != 1:
                continue
            hint = args[0]
        if hint not in _KINDS:
            continue
        value = values[f.name]
        if (value is None and optional) or _fits(value, hint):
            continue
        raise MyostreamError(f"{where}: {f.name} must be {_KINDS[hint]}, got {value!r}.")
