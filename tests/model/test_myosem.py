from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from myostream.errors import MyostreamError
from myostream.model import ARCHITECTURES, MyoSem, create_model
from myostream.model.retrieval import patch_rms
from tests.model.helpers import CLASS_IDS, prototypes, tiny_config


@pytest.fixture
def model() -> MyoSem:
    torch.manual_seed(0)
    return create_model(tiny_config(), prototypes(), CLASS_IDS)


def test_rank_agrees_with_embeddings(model):
    x = torch.randn(6, 20, 4)
    z = model.embed(x)
    assert z.shape == (6, 16) and torch.allclose(z.norm(dim=1), torch.ones(6))
    ranking = model.rank(x, k=3)
    scores = z @ model.prototypes.T
    assert torch.allclose(ranking.all_scores, scores, atol=1e-6) and torch.allclose(ranking.z, z)
    assert torch.equal(ranking.indices[:, 0], scores.argmax(1))
    assert (ranking.scores[:, :-1] >= ranking.scores[:, 1:]).all()
    assert ranking.class_ids[2] == [CLASS_IDS[i] for i in ranking.indices[2]]
    assert ranking.attention.shape == (6, 3, 5) and torch.allclose(ranking.attention.sum(-1), torch.ones(6, 3))
    assert torch.allclose(ranking.rms, patch_rms(x, 4))
    k_all = model.rank(x[0], k=99)
    assert k_all.indices.shape == (1, len(CLASS_IDS))


def test_per_patch_rms_is_in_signal_units(model):
    x = torch.zeros(1, 20, 4)
    x[0, 4:8, 1] = torch.tensor([2.0, -2.0, 2.0, -2.0])  # patch 1, channel 1: RMS 2
    rms = model.rank(x).rms
    expected = torch.zeros(1, 5, 4)
    expected[0, 1, 1] = 2.0
    assert torch.allclose(rms, expected)


def test_search_ranks_windows_by_prototype_or_text_embedding(model):
    x = torch.randn(10, 20, 4)
    z = model.embed(x)
    by_class = model.search("pinch", x)
    expected = z @ model.prototypes[CLASS_IDS.index("pinch")]
    assert torch.equal(by_class.indices, expected.argsort(descending=True))
    assert torch.allclose(by_class.scores, expected[by_class.indices])
    text = torch.randn(16)
    by_text = model.search(text, x, k=4)
    assert by_text.indices.shape == (4,)
    assert torch.equal(by_text.indices, (z @ (text / text.norm())).argsort(descending=True)[:4])


def test_numpy_and_single_windows_are_accepted(model):
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float64)
    assert torch.allclose(model.embed(x), model.embed(torch.as_tensor(x[None], dtype=torch.float32)))


def test_bad_input_is_one_clear_error(model):
    with pytest.raises(MyostreamError, match="expects 4 channels but the windows have 6"):
        model.embed(torch.randn(2, 20, 6))
    with pytest.raises(MyostreamError, match="windows of 20 samples .*200 ms at 100 Hz.* got 30"):
        model.embed(torch.randn(2, 30, 4))
    bad = torch.randn(2, 20, 4)
    bad[1, 3, 2] = float("nan")
    with pytest.raises(MyostreamError, match=r"NaN or infinite samples \(channel index \[2\]\)"):
        model.rank(bad)
    with pytest.raises(MyostreamError, match="Preprocessing for 8 channels at 100 Hz .* does not fit"):
        model.set_preprocessing(replace(model.preprocessing, n_channels=8))
    with pytest.raises(MyostreamError, match="Preprocessing for 4 channels at 200 Hz .* does not fit"):
        model.set_preprocessing(replace(model.preprocessing, rate=200.0))
    with pytest.raises(MyostreamError, match="Unknown class id 'wave'"):
        model.search("wave", torch.randn(2, 20, 4))
    with pytest.raises(MyostreamError, match="has 16 values, not 384"):
        model.search(torch.randn(384), torch.randn(2, 20, 4))
    with pytest.raises(MyostreamError, match="Prototypes have shape"):
        create_model(tiny_config(), prototypes(k=3), CLASS_IDS)


def test_every_architecture_shares_the_interface():
    x = torch.randn(3, 20, 4)
    for arch in ARCHITECTURES:
        torch.manual_seed(0)
        m = create_model(tiny_config(), prototypes(), CLASS_IDS, architecture=arch, n_classes=3).eval()
        out = m(x, stage=3)
        assert out["z"].shape == (3, 16) and out["logits"].shape == (3, 3), arch
        assert torch.allclose(out["z"].norm(dim=1), torch.ones(3)), arch
        assert m(x, stage=2)["logits"].shape == (3, 3), arch
        assert m.rank(x).indices.shape == (3, 4), arch
        assert m.alignment_parameters() and m.encoder_parameters(), arch
        head_ids = {id(p) for p in m.alignment_parameters()}
        assert not head_ids & {id(p) for p in m.encoder_parameters()}, arch
    with pytest.raises(MyostreamError, match="Unknown architecture"):
        create_model(tiny_config(), prototypes(), CLASS_IDS, architecture="resnet")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_runs_on_cuda(model):
    x = torch.randn(3, 20, 4)
    cpu = model.embed(x)
    model.to("cuda")
    assert torch.allclose(model.embed(x).cpu(), cpu, atol=1e-4)
    assert model.rank(x).indices.device.type == "cpu"
