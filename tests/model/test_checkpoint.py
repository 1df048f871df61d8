from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from myostream.errors import MyostreamError
from myostream.model import CatalogEntry, create_model
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.preprocess import FilterSpec, Preprocessing
from myostream.rejection import Rejection
from tests.model.helpers import CLASS_IDS, prototypes, tiny_config

CATALOG = [{"id": cid, "label": cid.replace("_", " "), "canonical": f"The hand performs {cid}."} for cid in CLASS_IDS]


@pytest.mark.parametrize("architecture", ["myosem", "tcn", "hudgins_linear"])
def test_round_trip_gives_identical_outputs(tmp_path, architecture):
    torch.manual_seed(0)
    model = create_model(tiny_config(), prototypes(), CLASS_IDS, architecture=architecture, n_classes=3)
    x = torch.randn(5, 20, 4)
    model.fit_input_stats(3.0 * x + 1.0)
    path = save_checkpoint(model, tmp_path / "ckpt", catalog=CATALOG, training={"seed": 7, "protocol": "random"})
    assert sorted(p.name for p in path.iterdir()) == [
        "catalog.json",
        "config.json",
        "prototypes.safetensors",
        "weights.safetensors",
    ]
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.architecture == architecture
    assert loaded.config == model.config and loaded.class_ids == CLASS_IDS and loaded.n_classes == 3
    assert torch.equal(loaded.prototypes, model.prototypes)
    assert torch.equal(loaded.embed(x), model.eval().embed(x))
    assert torch.equal(loaded.rank(x).all_scores, model.rank(x).all_scores)
    assert loaded.catalog["open_hand"] == CatalogEntry("open_hand", "open hand", "The hand performs open_hand.")
    assert loaded.metadata == {"seed": 7, "protocol": "random"}
    assert loaded.preprocessing == model.preprocessing


def test_preprocessing_travels_with_the_checkpoint(tmp_path):
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    pre = Preprocessing(
        rate=100.0,
        n_channels=4,
        window_ms=200.0,
        hop_ms=40.0,
        filter=FilterSpec(highpass=5.0, notch=50.0),
        normalisation="channel",
        prior_scale=(1.0, 2.0, 3.0, 4.0),
        ring=True,
        channel_names=("a", "b", "c", "d"),
    )
    model.set_preprocessing(pre)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "ckpt", catalog=CATALOG))
    assert loaded.preprocessing == pre


def test_a_checkpoint_without_preprocessing_gets_its_training_filter_and_hop(tmp_path):
    """Checkpoints written before preprocessing was recorded keep working as they were trained."""
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    path = save_checkpoint(
        model, tmp_path / "ckpt", catalog=CATALOG, training={"filter": {"highpass": 5.0}, "hop_ms": 50.0}
    )
    config = json.loads((path / "config.json").read_text())
    del config["preprocessing"]
    (path / "config.json").write_text(json.dumps(config))
    pre = load_checkpoint(path).preprocessing
    assert pre.filter == FilterSpec(highpass=5.0) and pre.hop_ms == 50.0 and pre.normalisation == "none"


def test_the_rejection_rule_travels_with_the_checkpoint(tmp_path):
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    x = torch.randn(200, 20, 4)
    scores = model.rank(x).all_scores.numpy()
    rule = Rejection.fit(scores, scores.argmax(1) == np.arange(200) % 4, 0.2, fitted_on="validation")
    model.rejection = rule
    path = save_checkpoint(model, tmp_path / "ckpt", catalog=CATALOG)
    assert json.loads((path / "config.json").read_text())["rejection"]["measure"] == rule.measure
    loaded = load_checkpoint(path)
    assert loaded.rejection == rule
    np.testing.assert_array_equal(loaded.rejection.accept(loaded.rank(x).all_scores.numpy()), rule.accept(scores))
    # checkpoints without a rule (older ones have no key at all) load with none: every window is shown
    model.rejection = None
    assert load_checkpoint(save_checkpoint(model, tmp_path / "plain", catalog=CATALOG)).rejection is None
    config = json.loads((path / "config.json").read_text())
    del config["rejection"]
    (path / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(path).rejection is None
    config["rejection"] = {"measure": "entropy", "threshold": 0.1}
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(MyostreamError, match="rejection.*unknown"):
        load_checkpoint(path)


def test_catalog_must_cover_every_class(tmp_path):
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    with pytest.raises(MyostreamError, match=r"lacks descriptions of the classes \['pinch'\]"):
        save_checkpoint(model, tmp_path / "c", catalog=CATALOG[:3])


@pytest.fixture
def saved(tmp_path):
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    return save_checkpoint(model, tmp_path / "ckpt", catalog=CATALOG)


def test_missing_or_wrong_paths(tmp_path, saved):
    with pytest.raises(MyostreamError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(MyostreamError, match="is a file; give the checkpoint folder"):
        load_checkpoint(saved / "weights.safetensors")
    (saved / "catalog.json").unlink()
    with pytest.raises(MyostreamError, match="lacks catalog.json"):
        load_checkpoint(saved)


def test_corrupt_weights(saved):
    data = (saved / "weights.safetensors").read_bytes()
    (saved / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(MyostreamError, match="not a readable safetensors file"):
        load_checkpoint(saved)


def test_foreign_config_and_foreign_weights(saved):
    (saved / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "hidden_size": 384}))
    with pytest.raises(MyostreamError, match="not a myostream checkpoint config"):
        load_checkpoint(saved)
    (saved / "config.json").write_text("{not json")
    with pytest.raises(MyostreamError, match="not valid JSON"):
        load_checkpoint(saved)


def test_weights_of_another_model_do_not_load(tmp_path, saved):
    other = create_model(tiny_config(d_model=48), prototypes(), CLASS_IDS)
    save_checkpoint(other, tmp_path / "other", catalog=CATALOG)
    (saved / "weights.safetensors").write_bytes((tmp_path / "other" / "weights.safetensors").read_bytes())
    with pytest.raises(MyostreamError, match="do not fit its config"):
        load_checkpoint(saved)


class _Exploit:
    """A pickle that creates a file when unpickled: loading must never run it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_never_executed(tmp_path, saved):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Exploit(marker))).close()
    assert marker.exists()  # the exploit works...
    marker.unlink()
    (saved / "weights.safetensors").write_bytes(pickle.dumps({"weights": _Exploit(marker)}))
    with pytest.raises(MyostreamError, match="weights.safetensors' is not a readable safetensors file"):
        load_checkpoint(saved)
    assert not marker.exists()  # ...but loading never ran it


def test_a_torch_pickle_is_refused(saved):
    torch.save({"prototypes": torch.ones(4, 16)}, saved / "prototypes.safetensors")
    with pytest.raises(MyostreamError, match="prototypes.safetensors' is not a readable safetensors file"):
        load_checkpoint(saved)


def test_anchored_prototypes_and_their_text_space_both_round_trip(tmp_path):
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    text = model.prototypes.clone()
    model.anchor({CLASS_IDS[1]: torch.randn(16)}, 0.5)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "ckpt", catalog=CATALOG))
    torch.testing.assert_close(loaded.prototypes, model.prototypes)
    torch.testing.assert_close(loaded.text_prototypes, text)
    assert not torch.allclose(loaded.prototypes[1], text[1]) and torch.equal(loaded.prototypes[0], text[0])
