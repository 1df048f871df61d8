"""The stage-1 text space of a run: class prototypes from the description catalogs, cached by
their inputs (catalog texts, classes, held-out set, seed, settings) in the user's cache, so every
command that needs the same space builds it once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from myostream.model.catalog import CatalogEntry
from myostream.paths import cache_dir
from myostream.train.experiment import TextSpec

STAGE1_DIR = "stage1"


@dataclass(frozen=True)
class TextSpace:
    """Prototypes of every class of the run (rows in ``class_ids`` order) and where they came from."""

    prototypes: torch.Tensor
    class_ids: tuple[str, ...]
    #: classes whose texts trained stage 1 (empty when the text encoder is untrained)
    trained_classes: tuple[str, ...]
    folder: Path
    catalog: list[CatalogEntry]
    cached: bool


def text_space(
    text: TextSpec,
    class_ids: Sequence[str],
    held_out: Sequence[str],
    mode: str,
    seed: int,
    cache: str | Path | None = None,
    progress: bool = True,
) -> TextSpace:
    """Class prototypes for ``class_ids``; reused from ``cache`` when the same (catalogs,
    classes, held-out set, seed, settings) were computed before.

    ``mode``: ``"stage1"`` trains the text encoder on the classes minus ``held_out``
    (held-out classes are encoded afterwards only); ``"untrained"`` builds the same
    four-view prototypes with the untrained encoder; ``"label"`` embeds the short label
    alone with the untrained encoder.
    """
    from myostream.text.catalog import catalog_for, load_catalogs
    from myostream.text.encoder import TextEncoder
    from myostream.text.stage1 import Stage1Config, export_prototypes, load_prototypes, save_stage1, train_stage1

    catalog = catalog_for(class_ids, load_catalogs(list(text.catalogs)))
    entries = [CatalogEntry(c.id, c.t0, c.t2) for c in catalog]
    held = sorted(held_out) if mode == "stage1" else []
    # the texts themselves are part of the key: an edited catalog never reuses stale prototypes
    texts = hashlib.sha1(json.dumps([[c.id, c.t0, c.t1, c.t2, list(c.t3)] for c in catalog]).encode()).hexdigest()
    key = {
        "catalogs": list(text.catalogs),
        "texts": texts,
        "classes": list(class_ids),
        "held_out": held,
        "seed": seed,
        "mode": mode,
        "text_model": text.model,
        "stage1": text.stage1 if mode == "stage1" else None,
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    cache = Path(cache) if cache is not None else cache_dir() / STAGE1_DIR
    folder = cache / f"{mode}-{len(class_ids)}classes-{len(held)}held-seed{seed}-{digest}"
    if (folder / "prototypes.json").is_file():
        prototypes, ids, meta = load_prototypes(folder)
        if meta.get("key") == key and list(ids) == list(class_ids):
            return TextSpace(prototypes, tuple(ids), tuple(meta.get("trained_classes", ())), folder, entries, True)

    encoder = TextEncoder.from_pretrained(text.model, seed=seed)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if mode == "stage1":
        torch.manual_seed(seed)
        config = Stage1Config(**text.stage1, seed=seed)
        result = train_stage1(catalog, encoder, config, held_out=held, progress=progress)
        trained = tuple(c for c in result.class_ids if c not in result.held_out)
        save_stage1(result, tmp, meta={"key": key, "trained_classes": list(trained)})
        prototypes, ids = result.prototypes, result.class_ids
    else:
        encoder.set_trainable(0)  # what gets saved: the (untrained) projection only
        if mode == "untrained":
            from myostream.text.stage1 import build_prototypes

            prototypes, ids = build_prototypes(encoder, catalog)
        else:
            prototypes, ids = encoder.encode([c.t0 for c in catalog]), catalog.ids
        trained = ()
        encoder.save(tmp)
        export_prototypes(tmp, prototypes, ids, meta={"key": key, "trained_classes": []})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return TextSpace(prototypes.float(), tuple(ids), trained, folder, entries, False)
