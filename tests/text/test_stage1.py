"""Stage 1: the multi-positive InfoNCE loss, training, prototypes and their export."""

from __future__ import annotations

import copy

import pytest
import torch

from myostream.errors import MyostreamError
from myostream.text.catalog import hold_out_paraphrases, load_catalog
from myostream.text.metrics import retrieval, view_alignment
from myostream.text.stage1 import (
    Stage1Config,
    build_prototypes,
    export_prototypes,
    load_prototypes,
    multi_positive_infonce,
    save_stage1,
    train_stage1,
)


def _unit(n: int, d: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_infonce_is_low_when_aligned_and_higher_when_permuted():
    a, labels = _unit(16), torch.arange(16)
    aligned = multi_positive_infonce(a, a, labels, labels, tau=0.05)
    permuted = multi_positive_infonce(a, a[torch.roll(torch.arange(16), 1)], labels, labels, tau=0.05)
    assert aligned < 0.01 < 1.0 < permuted
    random = multi_positive_infonce(a, _unit(16, seed=1), labels, labels, tau=1.0)
    assert abs(float(random) - float(torch.log(torch.tensor(16.0)))) < 0.5  # chance level ~ log(n)


def test_infonce_is_symmetric_and_counts_every_positive():
    a, b = _unit(8), _unit(12, seed=2)
    la, lb = torch.arange(8), torch.arange(12) % 8  # b has 4 classes with two positives
    assert torch.allclose(multi_positive_infonce(a, b, la, lb, 0.1), multi_positive_infonce(b, a, lb, la, 0.1))
    both = torch.cat([a[:4], a[:4]])  # the two positives of classes 0-3 sit exactly on their anchors
    lb2 = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    low = multi_positive_infonce(a[:4], both, la[:4], lb2, 0.05)
    assert low < multi_positive_infonce(a[:4], torch.cat([a[:4], _unit(4, seed=3)]), la[:4], lb2, 0.05)
    a.requires_grad_(True)
    multi_positive_infonce(a, b, la, lb, 0.1).backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_prototypes_are_normalised_view_means_and_round_trip(minilm, tmp_path):
    catalog = load_catalog("armband")
    prototypes, ids = build_prototypes(minilm, catalog)
    assert ids == catalog.ids and prototypes.shape == (len(catalog), 256)
    assert torch.allclose(prototypes.norm(dim=1), torch.ones(len(catalog)), atol=1e-5)
    fist = catalog["fist"]
    views = [minilm.encode(list(v)).mean(0) for v in fist.views().values()]
    expected = torch.nn.functional.normalize(
        torch.stack([torch.nn.functional.normalize(v, dim=0) for v in views]).mean(0), dim=0
    )
    assert torch.allclose(prototypes[ids.index("fist")], expected, atol=1e-5)
    export_prototypes(tmp_path, prototypes, ids, {"note": "test"})
    loaded, loaded_ids, meta = load_prototypes(tmp_path)
    assert torch.equal(loaded, prototypes) and loaded_ids == ids and meta["note"] == "test"
    with pytest.raises(MyostreamError, match="holds no class prototypes"):
        load_prototypes(tmp_path / "empty")


def test_stage1_improves_held_out_paraphrase_retrieval(minilm):
    """Paraphrases never seen in training or in the prototypes find their class better afterwards."""
    catalog, queries = hold_out_paraphrases(load_catalog("emg2pose"), 1)
    before_p, ids = build_prototypes(minilm, catalog)
    before = retrieval(minilm, before_p, ids, queries)
    config = Stage1Config(steps=120, train_layers=0, batch_classes=16, seed=0)
    result = train_stage1(catalog, minilm, config, progress=False)
    after = retrieval(result.encoder, result.prototypes, result.class_ids, queries)
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert after["mrr"] > before["mrr"] and after["recall@1"] >= before["recall@1"]


def test_view_alignment_separates_classes_of_the_armband_catalog(minilm):
    alignment = view_alignment(minilm, load_catalog("armband"))
    assert -1 < alignment["nearest_other_cosine"] < alignment["same_class_cosine"] < 1
    assert alignment["margin"] == pytest.approx(
        alignment["same_class_cosine"] - alignment["nearest_other_cosine"], abs=1e-6
    )
    assert 0 < alignment["separated_fraction"] <= 1


def test_held_out_classes_never_reach_training(tiny_encoder):
    catalog = load_catalog("armband")
    held = ("pinch", "point")
    config = Stage1Config(steps=6, train_layers=1, batch_classes=4, seed=3)
    with_held = train_stage1(catalog, copy.deepcopy(tiny_encoder), config, held_out=held, progress=False)
    without = train_stage1(
        catalog.subset([c for c in catalog.ids if c not in held]), copy.deepcopy(tiny_encoder), config, progress=False
    )
    assert with_held.losses == without.losses  # the same texts, the same steps
    assert with_held.class_ids == catalog.ids and with_held.prototypes.shape == (len(catalog), 16)
    assert with_held.held_out == held
    with pytest.raises(MyostreamError, match="not in catalog"):
        train_stage1(catalog, tiny_encoder, config, held_out=("wave",), progress=False)


def test_tail_training_changes_only_the_last_layer_and_projection(tiny_encoder, tmp_path):
    catalog = load_catalog("armband")
    before = copy.deepcopy(tiny_encoder.state_dict())
    result = train_stage1(catalog, tiny_encoder, Stage1Config(steps=4, train_layers=1, batch_classes=5), progress=False)
    after = result.encoder.state_dict()
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert "projection.weight" in changed and any(n.startswith("backbone.encoder.layer.1.") for n in changed)
    assert not any(n.startswith(("backbone.encoder.layer.0.", "backbone.embeddings.")) for n in changed)
    assert len(result.encoder.transformer_layers()) == 2  # the cached-layer trick restored the model
    folder = save_stage1(result, tmp_path / "stage1")
    _, ids, meta = load_prototypes(folder)
    assert ids == catalog.ids and meta["stage1"]["train_layers"] == 1


def test_bad_stage1_configs_are_refused(tiny_encoder):
    with pytest.raises(MyostreamError, match="tau"):
        Stage1Config(tau=0)
    with pytest.raises(MyostreamError, match="train_layers = 3"):
        train_stage1(load_catalog("armband"), tiny_encoder, Stage1Config(steps=1, train_layers=3), progress=False)
    with pytest.raises(MyostreamError, match="at least 2 training classes"):
        train_stage1(load_catalog("armband").subset(["fist"]), tiny_encoder, Stage1Config(steps=1), progress=False)
