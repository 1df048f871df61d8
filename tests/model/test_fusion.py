"""The person's LDA fused into the class scores: fit, score, save, load, export."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from myostream.errors import MyostreamError
from myostream.model import create_model
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.model.fusion import LDAFusion
from myostream.model.lda import HudginsLDA
from myostream.train.adapt import AdaptOptions, adapt_model
from myostream.train.evaluate import evaluate_model, window_scores
from tests.model.helpers import CLASS_IDS, prototypes, separable_task, tiny_config


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_model(tiny_config(), prototypes(), CLASS_IDS).eval()


def test_the_term_is_the_lda_log_posterior_and_uniform_for_classes_not_calibrated():
    x, y = separable_task(200)
    keep = y < 3  # the person calibrated three of the four classes
    fusion = LDAFusion.fit(x[keep].numpy(), y[keep].numpy(), CLASS_IDS, weight=2.0, temperature=0.05)
    assert fusion.classes == CLASS_IDS[:3]
    term = fusion.term(x, CLASS_IDS)
    lda = HudginsLDA().fit(x[keep].numpy(), y[keep].numpy())
    expected = torch.log_softmax(torch.from_numpy(lda.lda_.decision_function(lda.features(x.numpy()))), 1).float()
    torch.testing.assert_close(term[:, :3], 0.1 * expected, atol=2e-4, rtol=1e-3)
    torch.testing.assert_close(term[:, 3], torch.full((len(x),), -0.1 * math.log(3)))
    # candidates in another order, one calibrated class not among them
    other = ("pinch", "open_hand", "rest")
    torch.testing.assert_close(fusion.term(x, other)[:, 1], term[:, 2])
    torch.testing.assert_close(fusion.term(x, other)[:, 0], term[:, 3])


def test_fused_scores_are_what_rank_search_and_the_metrics_use(model):
    x, y = separable_task(200)
    cosine = window_scores(model, x)
    before = evaluate_model(model, x, y, n_bootstrap=10, n_episodes=10)["emg_to_text"]["R@1"]
    model.fusion = LDAFusion.fit(x.numpy(), y.numpy(), CLASS_IDS, weight=1.0, temperature=0.07)
    fused = window_scores(model, x)
    torch.testing.assert_close(fused, cosine + model.fusion.term(x, CLASS_IDS), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.rank(x, k=4).all_scores, fused)
    hits = model.search("fist", x, k=10)
    torch.testing.assert_close(hits.scores, fused[hits.indices, 1])
    after = evaluate_model(model, x, y, n_bootstrap=10, n_episodes=10)["emg_to_text"]["R@1"]
    assert before < 0.6 < 0.9 < after  # an untrained embedding; the person's LDA separates the classes


def test_a_checkpoint_keeps_the_fusion_and_a_broken_one_is_refused(model, tmp_path):
    x, y = separable_task(200)
    model.fusion = LDAFusion.fit(x.numpy(), y.numpy(), CLASS_IDS, weight=0.5, temperature=0.07)
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.fusion is not None and loaded.fusion.classes == CLASS_IDS and loaded.fusion.weight == 0.5
    torch.testing.assert_close(window_scores(loaded, x), window_scores(model, x))
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["fusion"]["classes"] = ["rest"]
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(MyostreamError, match="one row per class"):
        load_checkpoint(tmp_path / "ckpt")
    model.fusion = None
    save_checkpoint(model, tmp_path / "plain")
    assert load_checkpoint(tmp_path / "plain").fusion is None


def test_calibration_fuses_at_its_weight_and_zero_means_none(model):
    x, y = separable_task(120)
    adapt_model(model, x, y, AdaptOptions(mode="anchors", lda_weight=0.75), progress=False)
    assert model.fusion is None  # the model sees raw signal: an LDA would follow the day's gain
    model.set_preprocessing(replace(model.preprocessing, normalisation="channel"))
    adapt_model(model, x, y, AdaptOptions(mode="anchors", lda_weight=0.75), progress=False)
    assert model.fusion is not None and model.fusion.weight == 0.75
    assert model.fusion.temperature == model.config.stage3.temperature
    adapt_model(model, x, y, AdaptOptions(mode="anchors", lda_weight=0.0), progress=False)
    assert model.fusion is None  # a new calibration replaces the earlier LDA
    adapt_model(model, x[y == 1], y[y == 1], AdaptOptions(mode="anchors"), progress=False)
    assert model.fusion is None  # one class: nothing to discriminate
    with pytest.raises(MyostreamError, match="lda_weight = -1 must be 0"):
        AdaptOptions(lda_weight=-1)


def test_the_onnx_export_carries_the_fusion(model, tmp_path):
    pytest.importorskip("onnxruntime")
    from myostream.edge.export import export_onnx
    from myostream.edge.ranker import OnnxRanker

    x, y = separable_task(64)
    model.fusion = LDAFusion.fit(x.numpy(), y.numpy(), CLASS_IDS, weight=1.0, temperature=0.07)
    save_checkpoint(model, tmp_path / "ckpt")
    export_onnx(tmp_path / "ckpt", tmp_path / "onnx")
    ranker = OnnxRanker.load(tmp_path / "onnx")
    ranked = ranker.rank(x.numpy(), k=4)
    np.testing.assert_allclose(ranked.all_scores, window_scores(model, x).numpy(), atol=1e-4)
    # the scores without the LDA travel too (the orientation estimate weighs turns by them)
    assert ranker.manifest.outputs[-1] == "embedding_scores"
    alone = model.embedding_scores(x).numpy()
    np.testing.assert_allclose(ranker.embedding_scores(x.numpy()), alone, atol=1e-4)
    assert not np.allclose(alone, ranked.all_scores, atol=1e-2)
    model.fusion = None
    np.testing.assert_allclose(model.embedding_scores(x).numpy(), alone, atol=1e-6)
