"""``myostream describe``: show catalogs, rank classes for free text, glove text."""

from __future__ import annotations

import json
from pathlib import Path

from myostream.errors import MyostreamError
from myostream.paths import output_file

ACTIONS = ("list", "show", "encode", "glove", "report")


def describe_command(
    action: str,
    rest: list[str],
    catalogs: list[str] | None = None,
    model: str | None = None,
    top: int = 5,
    out: str | None = None,
) -> int:
    """``myostream describe ACTION REST...``; ``describe report``, the old spelling of ``myostream report text``,
    is routed there by the command line and never reaches this function."""
    rest = list(rest)
    if action == "list":
        return _list()
    if action == "show":
        if len(rest) != 1:
            raise MyostreamError(
                "describe show takes one catalog name or .toml path, e.g. `myostream describe show armband`."
            )
        return _show(rest[0])
    if action == "encode":
        text = " ".join(rest).strip()
        if not text:
            raise MyostreamError(
                'describe encode takes the text to rank, e.g. `myostream describe encode "make a fist"`.'
            )
        return _encode(text, catalogs, model, top)
    if action == "glove":
        if not rest:
            raise MyostreamError(
                "describe glove takes NinaPro files or folders with CyberGlove data, e.g. ../shared/data/ninapro-db1."
            )
        return _glove(rest, out)
    raise MyostreamError(f"Unknown describe action {action!r}; use one of {', '.join(ACTIONS)}.")


def _list() -> int:
    from myostream.text.catalog import catalog_names, load_catalog

    print(f"{'catalog':<10} {'classes':>7} {'glove T1':>8}  datasets")
    for name in catalog_names():
        catalog = load_catalog(name)
        datasets = sorted({d for c in catalog for d in c.labels})
        glove = sum(c.t1_source == "glove" for c in catalog)
        print(f"{name:<10} {len(catalog):>7} {glove:>8}  {', '.join(datasets)}")
        print(f"{'':<10} {catalog.description}")
    return 0


def _show(name: str) -> int:
    from myostream.text.catalog import load_catalog

    catalog = load_catalog(name)
    print(f"# {catalog.name}: {len(catalog)} classes ({catalog.sources[0]})")
    for c in catalog:
        labels = ", ".join(f"{d}={list(v)}" for d, v in c.labels.items()) or "-"
        print(f"\n{c.id}  [{labels}]")
        print(f"  T0 {c.t0}")
        print(f"  T1 {c.t1}" + ("  (glove)" if c.t1_source == "glove" else ""))
        print(f"  T2 {c.t2}")
        for text in c.t3:
            print(f"  T3 {text}")
    return 0


def _encode(text: str, catalogs: list[str] | None, model: str | None, top: int) -> int:
    import torch

    from myostream.model.checkpoint import is_checkpoint, load_checkpoint
    from myostream.text.catalog import catalog_for, load_catalogs
    from myostream.text.encoder import TextEncoder, text_encoder_folder
    from myostream.text.stage1 import build_prototypes, load_prototypes

    if model and is_checkpoint(model):  # a trained model: its own text space and classes
        ckpt = load_checkpoint(model)
        encoder = TextEncoder.load(text_encoder_folder(model, ckpt.metadata))
        prototypes, class_ids = ckpt.prototypes.detach().cpu(), tuple(ckpt.class_ids)
        labels = {c: e.label for c, e in ckpt.catalog.items()}
    else:
        if model:  # a stage-1 folder
            encoder = TextEncoder.load(model)
            prototypes, class_ids, _ = load_prototypes(model)
            catalog = catalog_for(class_ids)
        else:
            encoder = TextEncoder.from_pretrained()
            catalog = load_catalogs(catalogs)
            prototypes, class_ids = build_prototypes(encoder, catalog)
        labels = {c: catalog[c].t0 for c in class_ids}
    scores = (encoder.encode([text]) @ prototypes.T)[0]
    order = torch.argsort(scores, descending=True)[:top]
    print(f"{'rank':>4}  {'cosine':>6}  class")
    for rank, i in enumerate(order.tolist(), 1):
        print(f"{rank:>4}  {float(scores[i]):6.3f}  {class_ids[i]}  ({labels[class_ids[i]]})")
    return 0


def _glove(paths: list[str], out: str | None) -> int:
    from myostream.data.ninapro import read_ninapro, read_ninapro_folder
    from myostream.text.glove import glove_report, glove_texts

    recordings = []
    for p in map(Path, paths):
        recordings.extend(read_ninapro_folder(p) if p.is_dir() else [read_ninapro(p)])
    usable = [(r, r.glove) for r in recordings if r.glove is not None]
    if not usable:
        raise MyostreamError(
            f"None of the {len(recordings)} recording(s) carries CyberGlove data ('glove'); give NinaPro DB1/DB2/DB3 files."
        )
    texts = glove_texts((glove, r.labels, r.label_names) for r, glove in usable)
    report = {
        "generated_by": "myostream describe glove " + " ".join(paths),
        "source": sorted({r.dataset for r, _ in usable}),
        "files": len(usable),
        "layout": "CyberGlove II, 22 sensors (myostream.text.glove.CYBERGLOVE_22)",
        "classes": glove_report(texts),
    }
    for class_id, g in texts.items():
        print(f"{class_id} ({g.repetitions} repetitions): {g.text or '(no consistent finger movement)'}")
    if out:
        output_file(out, "the glove descriptions")
        Path(out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return 0
