"""The ONNX ranker: the live pipeline on onnxruntime in a process that never imports torch.

A real export of the bundled checkpoint; a real replayed recording through the real
Pipeline in a fresh Python process (torch and transformers must stay out of its
``sys.modules``); the same recording through the torch model for comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from myostream.edge.folder import EMG_FILE, MANIFEST
from myostream.edge.ranker import OnnxRanker
from myostream.edge.text import OnnxTextEncoder
from myostream.errors import MyostreamError
from myostream.runtime import bundled_checkpoint, load_model, make_pipeline
from myostream.stream.pipeline import Pipeline
from myostream.stream.replay import ReplaySource
from myostream.stream.simulated import SimulatedArmband
from myostream.text.encoder import TextEncoder
from tests.edge.exports import bundled_export
from tests.edge.signals import simulated_recording
from tests.stream.test_pipeline import collect

REPO = Path(__file__).resolve().parents[2]
#: rankings the subprocess collects from the replay
N_RANKINGS = 40

EDGE_SCRIPT = """
import json, sys
from myostream.runtime import make_pipeline
from myostream.stream.replay import ReplaySource
from tests.edge.signals import simulated_recording

pipeline = make_pipeline(ReplaySource(simulated_recording(12.0), speed=4.0), sys.argv[1], hop_ms=100)
text = pipeline.ranker.text_encoder()
pipeline.set_text_queries({"fist": text.encode(["make a fist"])[0]})
got = []
with pipeline:
    while len(got) < int(sys.argv[2]):
        ranking = pipeline.queue.get(timeout=30.0)
        if ranking is None or pipeline.error is not None:
            raise SystemExit(f"no ranking: {pipeline.error!r}")
        got.append(ranking)
print(json.dumps({
    "type": type(pipeline.ranker).__name__,
    "device": pipeline.stats().device,
    "rankings": {str(r.counter): [r.scores.tolist(), r.text_scores["fist"], r.attention.shape[0]] for r in got},
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "PyQt6", "h5py")),
}))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return bundled_export(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def ranker(folder) -> OnnxRanker:
    return OnnxRanker.load(folder)


def test_the_pipeline_runs_on_onnxruntime_without_torch(folder):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EDGE_SCRIPT), str(folder), str(N_RANKINGS)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] == []  # no torch, no transformers (nor Qt, h5py) on the edge path
    assert report["type"] == "OnnxRanker" and report["device"] == "cpu"
    rankings = report["rankings"]
    assert len(rankings) >= N_RANKINGS

    # the same replay through the torch model gives the same scores, window by window
    model = load_model(bundled_checkpoint())
    pipeline = make_pipeline(ReplaySource(simulated_recording(12.0), speed=4.0), model, hop_ms=100, device="cpu")
    encoder = TextEncoder.load(bundled_checkpoint())
    pipeline.set_text_queries({"fist": encoder.encode(["make a fist"])[0].numpy()})
    with pipeline:
        theirs = {str(r.counter): r for r in collect(pipeline, N_RANKINGS)}
    common = sorted(set(rankings) & set(theirs), key=int)
    assert len(common) >= N_RANKINGS // 2
    for counter in common:
        scores, text_score, n_queries = rankings[counter]
        np.testing.assert_allclose(scores, theirs[counter].scores, atol=1e-4)
        assert abs(text_score - theirs[counter].text_scores["fist"]) < 1e-4
        assert n_queries == theirs[counter].attention.shape[0] == 4


def test_rank_matches_the_ranker_protocol(ranker):
    w = np.random.default_rng(0).standard_normal((3, 200, 8)).astype(np.float32)
    out = ranker.rank(w, k=4)
    assert out.all_scores.shape == (3, 9) and out.z.shape == (3, 256) and out.rms.shape == (3, 10, 8)
    assert out.attention.shape == (3, 4, 10) and np.allclose(out.attention.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(out.z, axis=1), 1.0, atol=1e-5)
    assert out.scores.shape == out.indices.shape == (3, 4) and np.all(np.diff(out.scores, axis=1) <= 0)
    assert out.class_ids[0][0] == ranker.class_ids[int(np.argmax(out.all_scores[0]))]
    assert ranker.rank(w[0], k=50).scores.shape == (1, 9)  # one [T, C] window; k capped at the classes
    assert ranker.catalog["fist"].label and ranker.config.window_samples == 200 and ranker.config.d_embed == 256


def test_bad_windows_get_the_torch_models_sentences(ranker):
    model = load_model(bundled_checkpoint())
    good = np.zeros((2, 200, 8), np.float32)
    nan = good.copy()
    nan[0, 5, 3] = np.nan
    for bad in (good[:, :, :6], good[:, :150], good[0, 0], nan):
        with pytest.raises(MyostreamError) as ours:
            ranker.rank(bad)
        with pytest.raises(MyostreamError) as theirs:
            model.rank(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(MyostreamError, match="Windows must be a numeric array"):
        ranker.rank([["a"]])


def test_free_text_matches_the_torch_text_encoder(folder):
    encoder, edge = TextEncoder.load(bundled_checkpoint()), OnnxTextEncoder.load(folder)
    texts = [
        "make a fist",
        "rest",
        "The index finger points forward while the other fingers curl into the palm.",
        "a wrist that bends " * 80,
    ]  # the last one is cut at max_length
    for batch in (texts, texts[:1], texts[2:3]):
        np.testing.assert_allclose(edge.encode(batch), encoder.encode(batch).numpy(), atol=1e-4)
    assert edge.tokenize(texts)["input_ids"].shape[1] == encoder.max_length
    assert edge.encode([]).shape == (0, 256)
    with pytest.raises(MyostreamError, match="list of strings"):
        edge.encode("make a fist")


def test_folders_that_are_not_exports_say_what_to_do(folder, tmp_path):
    with pytest.raises(MyostreamError, match="does not exist"):
        OnnxRanker.load(tmp_path / "nope")
    with pytest.raises(MyostreamError, match="not an exported ONNX folder .*myostream export CKPT --onnx"):
        OnnxRanker.load(bundled_checkpoint())
    with pytest.raises(MyostreamError, match="is a checkpoint, not an exported ONNX folder; export it first"):
        load_model(bundled_checkpoint(), backend="onnx")
    with pytest.raises(MyostreamError, match="is an exported ONNX folder; run it with the onnx backend"):
        load_model(folder, backend="torch")
    with pytest.raises(MyostreamError, match="Backend 'tflite' is unknown"):
        load_model(folder, backend="tflite")
    assert isinstance(load_model(folder), OnnxRanker)  # auto: by the folder

    manifest = json.loads((folder / MANIFEST).read_text())

    def copy_with(name: str, content: bytes | None) -> Path:
        """The export without its text side, with ``name`` replaced by ``content`` (None: removed)."""
        broken = tmp_path / f"broken{len(list(tmp_path.iterdir()))}"
        broken.mkdir()
        (broken / MANIFEST).write_text(json.dumps({**manifest, "text": None}))
        (broken / EMG_FILE).write_bytes((folder / EMG_FILE).read_bytes())
        if content is None:
            (broken / name).unlink()
        else:
            (broken / name).write_bytes(content)
        return broken

    for name, content, says in [
        (MANIFEST, b"{not json", "is not valid JSON"),
        (MANIFEST, b'{"format": "something-else"}', "is not a myostream ONNX manifest"),
        (MANIFEST, b'{"format": "myostream-onnx", "version": 99}', "format version 99; update myostream"),
        (MANIFEST, b'{"format": "myostream-onnx", "version": 1}', "is malformed"),
        (EMG_FILE, None, "lacks emg.onnx"),
        (EMG_FILE, b"\x00garbage", "is not a loadable ONNX model"),
    ]:
        with pytest.raises(MyostreamError, match=says):
            OnnxRanker.load(copy_with(name, content))
    # a folder exported without --text ranks; free-text queries say how to get them
    no_text = copy_with(MANIFEST, json.dumps({**manifest, "text": None}).encode())
    with pytest.raises(MyostreamError, match="has no text encoder; .*export the checkpoint again with --text"):
        OnnxRanker.load(no_text).text_encoder()
    # a manifest that names a text side whose files are gone
    with pytest.raises(MyostreamError, match="lacks text.onnx, tokenizer.json"):
        OnnxRanker.load(copy_with(MANIFEST, json.dumps(manifest).encode()))


def test_a_torch_device_is_refused_for_the_onnx_ranker(ranker):
    with pytest.raises(MyostreamError, match="runs on cpu .*applies to torch models only"):
        Pipeline(SimulatedArmband(), ranker, device="cuda")
    assert Pipeline(SimulatedArmband(), ranker, device="cpu").device == "cpu"
