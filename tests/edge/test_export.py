"""``myostream export --onnx``: onnxruntime reproduces torch on real windows, every architecture exports.

Real recordings (the Côté-Allard Myo armband files, skipped when the shared data folder is
absent) prepared as the model's preprocessing says and cut into its windows; checkpoints
trained for a moment through the real stages 2 and 3; the bundled checkpoint on simulated
windows always.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from myostream.cli import main
from myostream.data.prepare import filter_recordings, prepare_recordings
from myostream.data.windows import extract_windows
from myostream.edge.export import export_onnx
from myostream.edge.folder import EMG_FILE, MANIFEST, read_manifest
from myostream.edge.ranker import OnnxRanker
from myostream.errors import MyostreamError
from myostream.model import ARCHITECTURES, create_model, load_config
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.preprocess import user_scale
from myostream.rejection import Rejection
from myostream.runtime import bundled_checkpoint
from myostream.stream.devices import load_profile
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3
from tests.edge.exports import bundled_export
from tests.edge.signals import simulated_recording

#: what the issue asks of an export: onnxruntime equals torch within this on 1,000 real windows
TOLERANCE = 1e-4


def torch_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        return {k: v.numpy() for k, v in model.rank_outputs(model.as_windows(x)).items()}


def assert_same_outputs(ranker: OnnxRanker, model, x: np.ndarray) -> dict[str, float]:
    expected, got = torch_outputs(model, x), ranker.outputs(x)
    assert list(got) == list(expected)
    diffs = {name: float(np.abs(got[name] - expected[name]).max()) for name in expected}
    assert max(diffs.values()) <= TOLERANCE, diffs
    return diffs


def assert_same_ranking(ranker: OnnxRanker, model, x: np.ndarray) -> None:
    """Batch-1 rank() of both backends: same best class wherever the best two are not tied."""
    for window in x:
        ours, theirs = ranker.rank(window, k=2), model.rank(window, k=2)
        np.testing.assert_allclose(ours.scores, theirs.scores.numpy(), atol=TOLERANCE)
        if float(theirs.scores[0, 0] - theirs.scores[0, 1]) > 2 * TOLERANCE:
            assert ours.class_ids[0][0] == theirs.class_ids[0][0]


def spread(n_windows: int, n: int) -> np.ndarray:
    """``n`` window indices spread over the whole set (every class, every repetition)."""
    assert n_windows >= n, f"only {n_windows} windows"
    return np.linspace(0, n_windows - 1, n).round().astype(int)


# ------------------------------------------------------------------ real Myo armband windows


@pytest.fixture(scope="module")
def myo(myo_dir):
    from myostream.data.myo import MYO_CLASSES, read_myo_folder

    person = myo_dir / "EvaluationDataset" / "Male0"
    return MYO_CLASSES, read_myo_folder(person / "training0"), read_myo_folder(person / "Test0")


def train_myo_checkpoint(architecture: str, myo, out: Path) -> Path:
    """The shipped Myo config, per-user normalised, trained one epoch per stage on a person's training0."""
    class_ids, train, _ = myo
    torch.manual_seed(0)
    cfg = load_config("myosem-myo")
    cfg = replace(cfg, stage2=replace(cfg.stage2, epochs=1), stage3=replace(cfg.stage3, epochs_a=1, epochs_b=1))
    generator = torch.Generator().manual_seed(1)
    prototypes = F.normalize(torch.randn(len(class_ids), cfg.d_embed, generator=generator), dim=-1)
    model = create_model(cfg, prototypes, class_ids, architecture=architecture)
    spec = load_profile("myo-armband-dataset").filter
    filtered = np.concatenate([r.emg for r in filter_recordings(train, spec)])
    prior = tuple(float(v) for v in user_scale(filtered, cfg.rate, "channel"))
    model.set_preprocessing(replace(model.preprocessing, filter=spec, normalisation="channel", prior_scale=prior))
    ws = extract_windows(prepare_recordings(train, model.preprocessing), cfg.window_ms, 50.0, classes=class_ids)
    x, y = torch.from_numpy(ws.x), torch.from_numpy(ws.y).long()
    train_stage2(model, x, y, device="cpu", progress=False)
    train_stage3(model, x, y, device="cpu", progress=False)
    return save_checkpoint(model.eval(), out)


@pytest.mark.parametrize("architecture", ["myosem", "tcn"])
def test_onnx_equals_torch_on_1000_real_myo_windows(myo, architecture, tmp_path):
    checkpoint = train_myo_checkpoint(architecture, myo, tmp_path / "ckpt")
    model = load_checkpoint(checkpoint)
    result = export_onnx(checkpoint, tmp_path / "onnx")
    assert max(result.max_abs_diff.values()) <= TOLERANCE
    ranker = OnnxRanker.load(result.path)
    assert ranker.preprocessing == model.preprocessing and ranker.preprocessing.normalisation == "channel"
    assert ranker.config == model.config and ranker.class_ids == model.class_ids and ranker.catalog == model.catalog

    class_ids, _, test = myo
    prepared = prepare_recordings(test, ranker.preprocessing)
    ws = extract_windows(prepared, ranker.config.window_ms, 50.0, classes=class_ids)
    x = ws.data(spread(len(ws), 1000))
    assert x.shape == (1000, ranker.config.window_samples, 8) and len(np.unique(ws.y)) == len(class_ids)
    diffs = assert_same_outputs(ranker, model, x)  # one dynamic batch of 1,000
    assert ("attention" in diffs) == (architecture == "myosem")
    assert_same_ranking(ranker, model, x[::50])  # and window by window, as the pipeline calls it


# ------------------------------------------------------------------ always: simulated windows


def test_bundled_checkpoint_on_1000_simulated_windows(tmp_path_factory):
    folder = bundled_export(tmp_path_factory.getbasetemp())
    model, ranker = load_checkpoint(bundled_checkpoint()), OnnxRanker.load(folder)
    ws = extract_windows(prepare_recordings([simulated_recording(60.0)], ranker.preprocessing), 200.0, 50.0)
    x = ws.data(spread(len(ws), 1000))
    assert_same_outputs(ranker, model, x)
    assert_same_ranking(ranker, model, x[::50])
    manifest = read_manifest(folder)
    assert manifest.source["opset"] >= 17 and manifest.source["exporter"].startswith("torch.onnx.export")
    model_file = onnx.load(str(folder / EMG_FILE))
    onnx.checker.check_model(model_file, full_check=True)
    assert max(op.version for op in model_file.opset_import if op.domain in ("", "ai.onnx")) >= 17
    assert model_file.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch


@pytest.mark.parametrize("variant", [*ARCHITECTURES, "no_queries"])
def test_every_architecture_exports(variant, tmp_path):
    cfg = load_config("myosem-simulated")
    architecture = "myosem" if variant == "no_queries" else variant
    if variant == "no_queries":
        cfg = replace(cfg, queries=False)
    ids = [f"class{i}" for i in range(5)]
    prototypes = F.normalize(torch.randn(5, cfg.d_embed, generator=torch.Generator().manual_seed(0)), dim=-1)
    model = create_model(cfg, prototypes, ids, architecture=architecture)
    ws = extract_windows([simulated_recording(20.0)], cfg.window_ms, 100.0)
    x = ws.data(spread(len(ws), 128))
    model.fit_input_stats(torch.from_numpy(x))
    model.rejection = Rejection("softmax", 0.4, target_far=0.05, fitted_on="validation", n_wrong=30)
    checkpoint = save_checkpoint(model.eval(), tmp_path / "ckpt")
    ranker = OnnxRanker.load(export_onnx(checkpoint, tmp_path / "onnx").path)
    assert ranker.architecture == architecture
    assert ranker.rejection == model.rejection  # the edge shows "no confident match" as the checkpoint would
    assert ("attention" in ranker.manifest.outputs) == (variant == "myosem")
    assert_same_outputs(ranker, load_checkpoint(checkpoint), x)


# ------------------------------------------------------------------ the command and bad input


def test_export_command_writes_a_checked_folder_and_refuses_to_overwrite_others(tmp_path, capsys):
    out = tmp_path / "edge"
    assert main(["export", str(bundled_checkpoint()), "--onnx", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "max |difference|" in printed and "live --backend onnx" in printed
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["text"] is None and manifest["class_ids"][0] == "rest"
    assert "rejection" in manifest and read_manifest(out).rejection == load_checkpoint(bundled_checkpoint()).rejection
    assert manifest["preprocessing"]["filter"]["notch"] == 50.0  # the training filter travels with it
    # an earlier export is replaced; a folder with anything else in it is not touched
    assert main(["export", str(bundled_checkpoint()), "--onnx", str(out)]) == 0
    capsys.readouterr()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    for argv, says in [
        (["export", str(bundled_checkpoint()), "--onnx", str(precious)], "is not empty"),
        (["export", str(tmp_path / "nope"), "--onnx", str(tmp_path / "x")], "does not exist"),
        (["export", str(bundled_checkpoint()), "--onnx", str(precious / "notes.txt")], "is a file"),
        (["export", str(bundled_checkpoint()), "--onnx", str(tmp_path / "y"), "--opset", "13"], "opset 13"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("myostream export:") and says in err and "\n" not in err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_folder_that_cannot_be_made_is_one_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(MyostreamError, match="Cannot write the export to .*choose a writable folder"):
        export_onnx(bundled_checkpoint(), blocker / "edge")
