"""The text a model shows for each class: id, short label (T0), canonical description (T2).

Torch-free, so the checkpoint folder and the exported ONNX folder read their catalogs
with the same code (``catalog.json`` rows ``{"id", "label", "canonical"}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from myostream.errors import MyostreamError


@dataclass(frozen=True)
class CatalogEntry:
    """The text a run needs for one class: its id, short label (T0) and canonical description (T2)."""

    id: str
    label: str
    canonical: str


def catalog_entry(e: Any) -> CatalogEntry:
    """A catalog row from a CatalogEntry, a mapping (id, label, canonical) or a
    ``myostream.text`` action class (id, t0, t2)."""
    if isinstance(e, CatalogEntry):
        return e
    if hasattr(e, "t0") and hasattr(e, "t2"):
        return CatalogEntry(id=str(e.id), label=str(e.t0), canonical=str(e.t2))
    try:
        return CatalogEntry(id=str(e["id"]), label=str(e.get("label", e["id"])), canonical=str(e.get("canonical", "")))
    except (KeyError, TypeError, AttributeError):
        raise MyostreamError(f"A catalog entry must have an 'id' (and 'label', 'canonical'); got {e!r}.") from None


def catalog_rows(catalog: Iterable[CatalogEntry], class_ids: Sequence[str]) -> list[dict[str, str]]:
    """The rows ``catalog.json`` (and an export's manifest) store, in class-id order."""
    entries = {e.id: e for e in catalog}
    return [{"id": cid, "label": entries[cid].label, "canonical": entries[cid].canonical} for cid in class_ids]


def parse_catalog(rows: Any, class_ids: Sequence[str], where: str) -> dict[str, CatalogEntry]:
    """Stored catalog rows -> class id -> entry, one per class id (``where`` names the file in errors)."""
    if not isinstance(rows, list):
        raise MyostreamError(f"{where} must hold a list of class entries.")
    entries = {e.id: e for e in (catalog_entry(r) for r in rows)}
    missing = [cid for cid in class_ids if cid not in entries]
    if missing:
        raise MyostreamError(f"{where} lacks the classes {missing}; the folder is incomplete.")
    return {cid: entries[cid] for cid in class_ids}
