from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from myostream.errors import MyostreamError
from myostream.model import create_model
from myostream.train.evaluate import evaluate_model
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3
from tests.model.helpers import CLASS_IDS, prototypes, separable_task, tiny_config


def _model(architecture: str = "myosem", seed: int = 0, **changes):
    torch.manual_seed(seed)
    return create_model(tiny_config(**changes), prototypes(), CLASS_IDS, architecture=architecture)


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_stage2_and_stage3_learn_a_separable_task(tmp_path):
    x, y = separable_task(256)
    xv, yv = separable_task(64, seed=1)
    model = _model()
    log = tmp_path / "train.jsonl"
    h2 = train_stage2(model, x, y, device="cpu", progress=False, log=log, val=(xv, yv))
    assert h2[-1]["loss"] < h2[0]["loss"] and h2[-1]["cls"] < 0.5 * h2[0]["cls"]
    assert {"rec", "vq", "acc", "val_acc", "lr", "windows_per_s"} <= set(h2[-1])
    assert h2[-1]["val_acc"] > 0.9

    encoder_before = [p.detach().clone() for p in model.encoder.parameters()]
    first_layer = [p.detach().clone() for p in model.encoder.layers.layers[0].parameters()]
    head_before = _params(model.head)
    cfg3 = replace(model.config.stage3, epochs_b=0)
    h3 = train_stage3(model, x, y, config=cfg3, device="cpu", progress=False, log=log, val=(xv, yv))
    assert all(torch.equal(a, b) for a, b in zip(encoder_before, model.encoder.parameters()))  # phase A: frozen
    assert not torch.equal(head_before, _params(model.head))
    h3 += train_stage3(model, x, y, config=replace(cfg3, epochs_a=0, epochs_b=2), device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(first_layer, model.encoder.layers.layers[0].parameters()))
    last = model.encoder.layers.layers[-1].parameters()
    assert not all(torch.equal(a, b) for a, b in zip(encoder_before[-len(first_layer) :], last))  # phase B: tail moves
    assert [r["phase"] for r in h3] == ["A", "A", "A", "B", "B"]
    assert h3[2]["nce"] < h3[0]["nce"] and h3[2]["val_r1"] > 0.9
    assert all(p.requires_grad for p in model.parameters())  # nothing left frozen afterwards

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["stage"] for r in lines if "selected" not in r] == ["stage2"] * 4 + ["stage3"] * 3
    # each stage keeps the epoch validation liked best, and says so in the log
    kept = [r for r in lines if r.get("selected")]
    assert [r["stage"] for r in kept] == ["stage2", "stage3"]
    assert max(r["val_acc"] for r in h2) == next(r for r in h2 if r.get("selected"))["val_acc"]
    result = evaluate_model(model, xv, yv, n_bootstrap=50, n_episodes=20)
    assert result["emg_to_text"]["R@1"] > 0.9 and result["text_to_emg"]["R@1"] > 0.9


@pytest.mark.parametrize("architecture", ["tcn", "hudgins_linear"])
def test_baselines_train_through_the_same_stages(architecture):
    x, y = separable_task(128)
    model = _model(architecture)
    h2 = train_stage2(model, x, y, device="cpu", progress=False)
    h3 = train_stage3(model, x, y, device="cpu", progress=False)
    assert h2[-1]["cls"] < h2[0]["cls"] and "rec" not in h2[-1]
    assert h3[-1]["nce"] < h3[0]["nce"]


def test_training_is_deterministic_for_a_seed():
    x, y = separable_task(96)
    runs = []
    for seed in (0, 0, 1):
        model = _model(dropout=0.1)
        train_stage2(
            model, x, y, config=replace(model.config.stage2, epochs=2), device="cpu", seed=seed, progress=False
        )
        runs.append(_params(model))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_bad_training_data_is_a_clear_error():
    x, y = separable_task(16)
    model = _model()
    with pytest.raises(MyostreamError, match="must index the 4 classes"):
        train_stage2(model, x, y + 1, device="cpu", progress=False)
    bad = x.clone()
    bad[3, 2, 1] = float("inf")
    with pytest.raises(MyostreamError, match="NaN or infinite"):
        train_stage2(model, bad, y, device="cpu", progress=False)
    with pytest.raises(MyostreamError, match="expects 4 channels but the windows have 3"):
        train_stage2(model, x[..., :3], y, device="cpu", progress=False)
    with pytest.raises(MyostreamError, match="Stage 3 got 3 prototypes but the classifier has 4"):
        train_stage3(model, x, y, prototypes=prototypes(k=3), device="cpu", progress=False)


def test_the_best_validation_epoch_is_kept_not_the_last():
    """A stage whose last epochs get worse on validation ends with the weights of its best epoch."""
    from myostream.train.loop import BestEpoch

    model = _model()
    best = BestEpoch("acc")
    states = []
    for epoch, acc in enumerate([0.5, 0.9, 0.7]):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        best.offer(model, {"epoch": epoch + 1, "val_acc": acc})
    record = best.restore(model)
    assert record == {"epoch": 2, "val_acc": 0.9, "selected": True}
    assert all(torch.equal(v, states[1][k]) for k, v in model.state_dict().items())
    assert BestEpoch("acc").restore(model) is None  # nothing validated: the caller keeps the last weights
