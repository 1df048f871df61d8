"""TextEncoder with the real all-MiniLM-L6-v2 weights, loaded offline."""

from __future__ import annotations

import json

import pytest
import torch

from myostream.errors import MyostreamError
from myostream.text.encoder import TextEncoder


def test_minilm_encodes_to_unit_vectors_of_size_256(minilm):
    texts = ["make a fist", "clench your fist", "bend the wrist back", "tilt the hand toward the thumb"] * 3
    z = minilm.encode(texts, batch_size=5)
    assert z.shape == (12, 256) and z.dtype == torch.float32 and not z.requires_grad
    assert torch.allclose(z.norm(dim=1), torch.ones(12), atol=1e-5)
    assert torch.allclose(z[:4], z[4:8], atol=1e-5)  # batching does not change a text's vector
    assert float(z[0] @ z[1]) > float(z[0] @ z[2])  # fist paraphrases are closer than a wrist movement
    assert minilm.encode([]).shape == (0, 256)


def test_forward_keeps_gradients_for_training(minilm):
    minilm.set_trainable(0)
    z = minilm(["open the hand", "point with the index finger"])
    z.sum().backward()
    assert minilm.projection.weight.grad is not None
    assert all(p.grad is None for p in minilm.backbone.parameters())


def test_projection_starts_semi_orthogonal_and_seeded(tiny_encoder):
    w = tiny_encoder.projection.weight
    assert torch.allclose(w @ w.T, torch.eye(16), atol=1e-5)
    other = TextEncoder(tiny_encoder.backbone, tiny_encoder.tokenizer, dim=16)
    assert torch.equal(other.projection.weight, w)


def test_missing_models_fail_offline_with_a_clear_sentence(tmp_path, tiny_encoder):
    with pytest.raises(MyostreamError, match=r"folder .*holds no loadable model"):
        TextEncoder.from_pretrained(tmp_path / "no-model-here")
    with pytest.raises(MyostreamError, match=r"not in the local Hugging Face cache and nothing is downloaded"):
        TextEncoder.from_pretrained("myostream-tests/no-such-model")
    with pytest.raises(MyostreamError, match="list of strings"):
        tiny_encoder.encode("a single string")  # type: ignore[arg-type]


def test_any_local_model_folder_loads_and_trained_state_round_trips(tiny_encoder, tmp_path):
    model_dir = tmp_path / "tiny-bert"
    tiny_encoder.backbone.save_pretrained(model_dir)
    tiny_encoder.tokenizer.save_pretrained(model_dir)
    encoder = TextEncoder.from_pretrained(model_dir, dim=16)
    encoder.set_trainable(1)
    with torch.no_grad():
        encoder.projection.weight.mul_(-1)
        encoder.transformer_layers()[-1].output.dense.bias.add_(0.5)
    texts = ["make a fist", "wave"]
    saved = encoder.save(tmp_path / "trained")
    restored = TextEncoder.load(saved)
    assert torch.allclose(restored.encode(texts), encoder.encode(texts), atol=1e-6)
    assert sorted(restored.trainable_state_dict()) == sorted(encoder.trainable_state_dict())
    with pytest.raises(MyostreamError, match="holds no saved text encoder"):
        TextEncoder.load(tmp_path)


class _RunsCode:
    """Unpickling this creates a file: proof that a loader executed pickled code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_weights_are_refused_without_unpickling_them(tiny_encoder, tmp_path):
    """A text_encoder.json may name any folder; its pytorch_model.bin must never be unpickled."""
    import pickle

    folder = tmp_path / "pickled"
    tiny_encoder.backbone.save_pretrained(folder)
    tiny_encoder.tokenizer.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump(_RunsCode(str(marker)), f)
    with pytest.raises(MyostreamError, match=r"has no safetensors weights \(pytorch_model.bin\).*never pickled"):
        TextEncoder.from_pretrained(folder, dim=16)
    assert not marker.exists()


def test_a_saved_encoder_that_does_not_fit_its_config_is_one_sentence(tiny_encoder, tmp_path):
    model_dir = tmp_path / "tiny-bert"
    tiny_encoder.backbone.save_pretrained(model_dir)
    tiny_encoder.tokenizer.save_pretrained(model_dir)
    saved = TextEncoder.from_pretrained(model_dir, dim=16).save(tmp_path / "trained")
    config = json.loads((saved / "text_encoder.json").read_text())
    (saved / "text_encoder.json").write_text(json.dumps({**config, "dim": 8}))
    with pytest.raises(
        MyostreamError, match=r"do not fit text_encoder.json \(dim 8.*size mismatch for projection.weight"
    ):
        TextEncoder.load(saved)
    (saved / "text_encoder.json").write_text(json.dumps({**config, "dim": "sixteen"}))
    with pytest.raises(MyostreamError, match="dim must be a positive whole number, got 'sixteen'"):
        TextEncoder.load(saved)
    (saved / "text_encoder.json").write_text("{not json")
    with pytest.raises(MyostreamError, match="is not readable JSON"):
        TextEncoder.load(saved)
