"""Per-user adaptation on real session files recorded from the simulated armband.

A small base model (real MiniLM prototypes, stages 2 and 3) is trained on simulated
people 0-2; a new person records a short calibration protocol (the simulator cued by
the protocol's trial schedule, written by the session writer) and ``myostream adapt``
adapts the model to it. The same on the real Myo armband recordings (skipped when the
shared data folder is absent): adapted on one day, tested on another.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from myostream.cli import main
from myostream.data.prepare import filter_recordings, prepare_recordings
from myostream.data.session import SessionWriter, read_session
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from myostream.model import CatalogEntry, create_model
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.model.config import ModelConfig, Stage2Config, Stage3Config
from myostream.model.fusion import LDAFusion
from myostream.preprocess import FilterSpec
from myostream.records import Recording
from myostream.rejection import Rejection
from myostream.stream.devices import load_profile
from myostream.stream.simulated import SimulatedArmband
from myostream.text.catalog import catalog_for
from myostream.text.encoder import TextEncoder
from myostream.text.stage1 import build_prototypes
from myostream.train.adapt import (
    AdaptOptions,
    adapt,
    adapt_model,
    adapt_sessions,
    balanced,
    calibrated_to_a_person,
    calibration_defaults,
    class_centres,
    model_windows,
    person_rejection,
    self_calibrate,
)
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3
from tests.model.helpers import CLASS_IDS as TINY_CLASSES
from tests.model.helpers import prototypes as tiny_prototypes
from tests.model.helpers import tiny_config
from tests.train.sessions import simulate_session

RATE = 500.0
PROTOCOL = """
name = "short"
gestures = ["rest", "fist", "open_hand", "wrist_flexion", "wrist_extension",
            "radial_deviation", "ulnar_deviation", "pinch", "point"]
repetitions = 3
hold_s = 2.0
rest_s = 1.0
lead_in_s = 1.0
order = "random"
"""


def _config(**changes) -> ModelConfig:
    """A small MyoSem for the tests' 500 Hz simulated armband (or, with changes, the Myo armband)."""
    return ModelConfig(
        **{
            "name": "tiny-sim",
            "n_channels": 8,
            "rate": RATE,
            "window_ms": 200,
            "patch": 10,
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "codebook_size": 16,
            "n_queries": 2,
            "descriptor_hidden": 16,
            "dropout": 0.0,
            "stage2": Stage2Config(epochs=4, batch_size=64, lr=3e-3),
            "stage3": Stage3Config(epochs_a=3, epochs_b=1, batch_size=64, lr=3e-3, lr_b=3e-4),
            **changes,
        }
    )


def _simulated(user: int, seconds: float) -> Recording:
    sim = SimulatedArmband(rate=RATE, user=user, schedule="random", realtime=False)
    chunk = sim.generate(seconds)
    return Recording(
        emg=chunk.data,
        rate=RATE,
        labels=chunk.labels.astype(np.int16),
        label_names=sim.info.label_names,
        channel_names=sim.info.channel_names,
        subject=f"user{user}",
        dataset="simulated",
    )


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.from_pretrained()


def _train_base(
    cfg: ModelConfig,
    recordings: list[Recording],
    class_ids,
    spec: FilterSpec,
    encoder: TextEncoder,
    hop_ms: float,
    out: Path,
) -> Path:
    """A small checkpoint trained like ``myostream train`` does: filter, windows, text prototypes, stages 2 and 3."""
    torch.manual_seed(0)
    catalog = catalog_for(class_ids)
    prototypes, ids = build_prototypes(encoder, catalog)
    ws = extract_windows(filter_recordings(recordings, spec), cfg.window_ms, hop_ms, classes=class_ids)
    idx = balanced(ws.y, np.arange(len(ws)))
    x, y = torch.from_numpy(ws.data(idx)), torch.from_numpy(ws.y[idx]).long()
    model = create_model(cfg, prototypes, ids)
    model.set_preprocessing(replace(model.preprocessing, filter=spec))
    train_stage2(model, x, y, device="cpu", progress=False)
    train_stage3(model, x, y, device="cpu", progress=False)
    save_checkpoint(model.eval(), out, catalog=[CatalogEntry(c.id, c.t0, c.t2) for c in catalog])
    encoder.save(out)
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory, encoder) -> Path:
    recordings = [_simulated(u, 40.0) for u in (0, 1, 2)]
    return _train_base(
        _config(),
        recordings,
        recordings[0].label_names,
        FilterSpec(highpass=20.0, notch=50.0),
        encoder,
        50.0,
        tmp_path_factory.mktemp("base") / "ckpt",
    )


@pytest.fixture(scope="module")
def protocol(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("protocol") / "short.toml"
    path.write_text(PROTOCOL)
    return path


@pytest.fixture(scope="module")
def new_user_sessions(tmp_path_factory, protocol) -> Path:
    folder = tmp_path_factory.mktemp("sessions")
    simulate_session(folder / "sub-new_ses-1_short.h5", str(protocol), user=10, session=1, rate=RATE, subject="new")
    return folder


@pytest.fixture(scope="module")
def adapted(base, new_user_sessions, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapted") / "ckpt"
    torch.manual_seed(0)  # 2 s holds: windows every 25 ms give the adaptation enough of them
    result, path = adapt_sessions(
        base,
        new_user_sessions,
        out,
        options=AdaptOptions(epochs_a=6, epochs_b=4, hop_ms=25.0),
        progress=False,
        say=lambda s: None,
    )
    return result, path


def test_simulated_session_labels_follow_the_cues(new_user_sessions):
    rec = read_session(next(new_user_sessions.glob("*.h5")))
    truth = np.asarray(rec.meta["source_labels"])
    names = rec.meta["source_label_names"]
    cued = np.array([names.index(rec.label_names[i]) if i >= 0 else -1 for i in rec.labels])
    assert rec.rate == RATE and rec.n_channels == 8 and rec.meta["complete"]
    assert sorted(set(rec.repetition.tolist())) == [0, 1, 2, 3]
    assert np.mean(cued == truth) > 0.99  # the simulated participant does what the cue says


def test_adaptation_improves_held_out_r1_on_a_new_user(adapted):
    result, _ = adapted
    (held,) = result.before
    assert held == "repetition 3"
    before, after = result.before[held], result.after[held]
    assert after["R@1"] >= before["R@1"] + 0.05, (before, after)
    assert after["MRR"] > before["MRR"]
    assert result.extra["adapt_repetitions"] == [1, 2] and result.extra["holdout_repetition"] == 3
    assert result.history[-1]["phase"] == "B" and result.history[-1]["loss"] < result.history[0]["loss"]


def test_adapted_checkpoint_loads_with_the_trained_classes(adapted, base):
    result, path = adapted
    old, new = load_checkpoint(base), load_checkpoint(path)
    assert new.class_ids == old.class_ids and new.catalog == old.catalog
    # the text space is the trained one; the person's anchors moved the calibrated classes' prototypes
    torch.testing.assert_close(new.text_prototypes, old.prototypes, rtol=0, atol=1e-6)
    calibrated = [new.class_ids.index(c) for c in result.extra["classes"]]
    assert not torch.allclose(new.prototypes[calibrated], old.prototypes[calibrated])
    # what adapts: head and the encoder's last layer; the input layers stay as trained
    assert torch.equal(new.encoder.patch_embed.weight, old.encoder.patch_embed.weight)
    assert not torch.equal(new.head.f_proj[0].weight, old.head.f_proj[0].weight)
    assert not torch.equal(new.input_scale, old.input_scale)  # normaliser re-fitted on the sessions
    record = new.metadata["adaptation"]
    assert record["after"] == json.loads(json.dumps(result.after))
    assert record["sessions"] == [str(p) for p in sorted(Path(result.extra["sessions"][0]).parent.glob("*.h5"))]
    assert new.preprocessing == old.preprocessing
    assert (path / "text_encoder.json").is_file()  # free-text queries keep working in the live app
    window = np.random.default_rng(0).normal(size=(3, new.config.window_samples, 8)).astype(np.float32)
    assert new.rank(window).indices.shape == (3, 5)


def test_adapt_fits_the_rejection_rule_on_the_held_out_repetition(adapted, base):
    result, path = adapted
    assert load_checkpoint(base).rejection is None  # a base without a rule: the person's is fitted from scratch
    rule = load_checkpoint(path).rejection
    assert rule is not None and rule.fitted_on.startswith("held-out repetition 3")
    assert rule.n_correct + rule.n_wrong == result.n_test
    record = json.loads((path / "adaptation.json").read_text())["rejection"]
    assert record["refitted"] and record["base"] is None and "false-accept" in record["note"]


def test_a_person_refits_the_base_rule_when_the_repetition_shows_enough_wrong_windows():
    torch.manual_seed(0)
    model = create_model(tiny_config(), tiny_prototypes(), TINY_CLASSES)
    x = torch.randn(120, 20, 4)
    predicted = model.rank(x).all_scores.argmax(1)
    base = Rejection("top1", threshold=0.9, target_far=0.2, fitted_on="validation")

    def person(n_wrong: int) -> tuple[dict, Rejection]:
        y = predicted.clone()
        y[:n_wrong] = (y[:n_wrong] + 1) % len(TINY_CLASSES)  # exactly n_wrong windows ranked wrong
        model.rejection = base
        return person_rejection(model, x, y, "held-out repetition 2"), model.rejection

    done, rule = person(30)
    assert done["refitted"] and rule.fitted_on == "held-out repetition 2"
    assert (rule.measure, rule.target_far, rule.n_wrong) == ("top1", 0.2, 30)  # the base's measure and target
    assert rule.accepted_wrong <= 0.2 and rule.threshold != base.threshold
    # 3 wrong windows cannot promise 20 %: the base's threshold stays, and the record says why
    done, rule = person(3)
    assert not done["refitted"] and rule == base and "too few" in done["note"]
    # ... unless the person's LDA was fused into the scores, which the base's threshold never saw
    model.fusion = LDAFusion.fit(x.numpy(), predicted.numpy(), TINY_CLASSES, weight=0.5, temperature=0.07)
    predicted = model.rank(x).all_scores.argmax(1)
    done, rule = person(3)
    assert done["refitted"] and rule.n_wrong == 3 and rule.threshold != base.threshold
    assert "without the person's LDA" in done["note"]


def _write_session(path: Path, n_channels: int = 8, rate: float = RATE, repetitions: int = 2) -> Path:
    writer = SessionWriter(
        path, rate=rate, channel_names=[f"ch{i}" for i in range(n_channels)], label_names=["rest", "fist"], subject="x"
    )
    n = int(rate)
    labels = np.repeat([1, 0] * repetitions, n // 2).astype(np.int16)
    reps = np.repeat([[r, 0] for r in range(1, repetitions + 1)], n // 2).astype(np.int16)
    data = np.random.default_rng(0).normal(size=(len(labels), n_channels)).astype(np.float32)
    writer.append(data, np.arange(len(labels)) / rate, labels, reps)
    return writer.close()


@pytest.mark.parametrize(
    ("channels", "rate", "message"),
    [
        (4, RATE, "has 4 channels at 500 Hz but model 'tiny-sim' expects 8 channels at 500 Hz"),
        (8, 1000.0, "has 8 channels at 1000 Hz but model 'tiny-sim' expects 8 channels at 500 Hz"),
    ],
)
def test_sessions_that_do_not_match_the_model_are_one_clear_error(base, tmp_path, channels, rate, message):
    _write_session(tmp_path / "s.h5", channels, rate)
    with pytest.raises(MyostreamError, match=message):
        adapt_sessions(base, tmp_path, tmp_path / "out", progress=False, say=lambda s: None)
    assert not (tmp_path / "out").exists()


def test_sessions_at_another_rate_are_resampled_when_asked(base, protocol, tmp_path):
    """A 1 kHz session adapts the 500 Hz model through the live pipeline's resampler, labels kept in time."""
    folder = tmp_path / "sessions"
    session = simulate_session(
        folder / "sub-fast_ses-1_short.h5", str(protocol), user=10, session=1, rate=1000.0, subject="fast"
    )
    said: list[str] = []
    result, out = adapt_sessions(
        base,
        folder,
        tmp_path / "out",
        options=AdaptOptions(epochs_a=1, epochs_b=1),
        progress=False,
        say=said.append,
        resample=True,
        log=tmp_path / "epochs.jsonl",
    )
    assert "resampling the sessions from 1000 Hz to the model's 500 Hz" in said
    assert result.n_adapt > 100 and load_checkpoint(out).config.rate == RATE
    epochs = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in epochs] == ["A", "B"]
    from myostream.data.prepare import resample_recordings
    from myostream.stream.resample import Resampler

    rec = read_session(session)
    (half,) = resample_recordings([rec], RATE)
    assert half.rate == RATE and abs(half.n_samples - rec.n_samples / 2) <= 1
    # every label change is kept, as late as the signal is (the resampler's delay), to a sample
    changes = np.flatnonzero(np.diff(rec.labels)) + 1
    moved = np.flatnonzero(np.diff(half.labels)) + 1
    delay = Resampler(1000.0, RATE, 8).delay_s
    assert len(changes) == len(moved) and np.allclose(moved / RATE - changes / 1000.0, delay, atol=2 / RATE)
    np.testing.assert_array_equal(half.repetition[moved], rec.repetition[changes])


def test_empty_or_missing_sessions_folder_is_a_clear_error(base, tmp_path):
    with pytest.raises(MyostreamError, match="holds no session .h5 files; record some with `myostream record"):
        adapt_sessions(base, tmp_path, tmp_path / "out", progress=False, say=lambda s: None)
    with pytest.raises(MyostreamError, match="does not exist"):
        adapt_sessions(base, tmp_path / "nowhere", tmp_path / "out", progress=False, say=lambda s: None)


def test_one_repetition_cannot_be_held_out(base, tmp_path):
    _write_session(tmp_path / "s.h5", repetitions=1)
    with pytest.raises(MyostreamError, match="adaptation needs at least two"):
        adapt_sessions(base, tmp_path, tmp_path / "out", progress=False, say=lambda s: None)


def test_cli_writes_the_checkpoint_and_its_report(base, new_user_sessions, tmp_path, capsys):
    out = tmp_path / "mine"
    rc = main(
        [
            "adapt",
            "--model",
            str(base),
            "--sessions",
            str(new_user_sessions),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--holdout-rep",
            "2",
            "--normalizer",
            "keep",
            "--threads",
            "1",
            "--no-jitter",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "before: repetition 2: R@1" in printed and "after:  repetition 2" in printed and str(out) in printed
    report = json.loads((out / "adaptation.json").read_text())
    assert report["holdout_repetition"] == 2 and report["adapt_repetitions"] == [1, 3]
    assert (
        report["options"]["normalizer"] == "keep" and report["options"]["epochs_a"] + report["options"]["epochs_b"] == 2
    )
    assert report["options"]["gain"] == report["options"]["noise"] == 0.0  # --no-jitter
    assert "| repetition 2 |" in (out / "adaptation.md").read_text()
    model = load_checkpoint(out)
    assert torch.equal(model.input_scale, load_checkpoint(base).input_scale)  # --normalizer keep

    assert main(["adapt", "--model", str(base), "--sessions", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("myostream adapt: Sessions folder") and "\n" not in err


def test_anchors_move_only_calibrated_classes_and_keep_the_text_space(base):
    model = load_checkpoint(base)
    text = model.prototypes.clone()
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(30, model.config.window_samples, 8)).astype(np.float32))
    y = torch.tensor([0] * 15 + [2] * 15)
    assert adapt_model(model, x, y, AdaptOptions(mode="anchors", anchor_weight=1.0), progress=False) == []
    centres = class_centres(model, x, y)
    assert set(centres) == {model.class_ids[0], model.class_ids[2]}
    torch.testing.assert_close(model.prototypes[0], centres[model.class_ids[0]])  # weight 1: the person's centre
    torch.testing.assert_close(model.prototypes[1], text[1])  # no windows: the text prototype
    torch.testing.assert_close(model.text_prototypes, text)  # free text still lives in the same space
    model.anchor({model.class_ids[2]: centres[model.class_ids[2]]}, 0.0)
    torch.testing.assert_close(model.prototypes, text)  # weight 0: nothing moves
    with pytest.raises(MyostreamError, match="Anchors for classes the model does not rank: wave"):
        model.anchor({"wave": centres[model.class_ids[0]]}, 0.5)


def test_self_calibration_labels_a_new_wearer_itself_and_needs_enough_classes(base):
    """Without labels: the model's own confident labels of a wearer's first seconds calibrate a copy."""
    model = load_checkpoint(base)
    rec = _simulated(11, 30.0)
    ws = extract_windows(filter_recordings([rec], model.preprocessing.filter), model.config.window_ms, 50.0)
    x = ws.data(np.arange(len(ws)))
    options = AdaptOptions(epochs_a=1, epochs_b=1)
    own = self_calibrate(model, x, confidence=0.0, options=options)
    assert own is not None and own is not model
    record = own.metadata["self_calibration"]
    assert record["labelled"] == record["windows"] == len(x) and len(record["classes"]) >= len(model.class_ids) / 2
    assert not torch.equal(own.prototypes, model.prototypes)  # its own class centres anchor it
    assert own.fusion is None  # no LDA on the model's own labels
    assert calibrated_to_a_person(own) and not calibrated_to_a_person(model)
    # a wearer who held one posture shows one class: no self-calibration
    assert self_calibrate(model, np.repeat(x[:1], 40, axis=0), confidence=0.0, options=options) is None
    # nothing is confident enough: none either
    assert self_calibrate(model, x, confidence=1.01, options=options) is None


def test_calibration_fine_tunes_on_jittered_gains_and_noise(base):
    """The same seed and windows: without jitter two calibrations agree to the bit, with it they part."""
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(40, 250, 8)).astype(np.float32))
    y = torch.tensor([0, 1, 2, 3] * 10)

    def calibrated(gain: float, noise: float) -> torch.Tensor:
        model = load_checkpoint(base)
        options = AdaptOptions(mode="finetune", lda_weight=0.0, epochs_a=1, epochs_b=1, gain=gain, noise=noise)
        adapt_model(model, x[:, : model.config.window_samples], y, options, progress=False)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    plain = calibrated(0.0, 0.0)
    assert torch.equal(plain, calibrated(0.0, 0.0))
    assert not torch.equal(plain, calibrated(0.4, 0.1))
    assert AdaptOptions().gain > 0 and AdaptOptions().noise > 0  # the default jitters


def test_options_are_checked():
    with pytest.raises(MyostreamError, match="Adaptation mode 'magic' is unknown"):
        AdaptOptions(mode="magic")
    with pytest.raises(MyostreamError, match="anchor_weight = 2 must lie in"):
        AdaptOptions(anchor_weight=2)
    with pytest.raises(MyostreamError, match="Normaliser mode 'zscore' is unknown"):
        AdaptOptions(normalizer="zscore")
    with pytest.raises(MyostreamError, match="at least one epoch"):
        AdaptOptions(epochs_a=0, epochs_b=0)
    with pytest.raises(MyostreamError, match="Calibration gain = -0.1 and noise = 0.1 must be 0"):
        AdaptOptions(gain=-0.1)
    assert (AdaptOptions.with_epochs(5).epochs_a, AdaptOptions.with_epochs(5).epochs_b) == (3, 2)


def test_adaptation_on_real_myo_armband_sessions_helps_on_another_day(myo_dir, encoder, tmp_path):
    """Base on two PreTrainingDataset people; adapt on an EvaluationDataset person's training0; test on Test0."""
    from myostream.data.myo import MYO_CLASSES, read_myo_folder

    spec = load_profile("myo-armband-dataset").filter
    cfg = _config(name="tiny-myo", rate=200.0, window_ms=260, patch=4)
    people = read_myo_folder(myo_dir / "PreTrainingDataset", subjects=["Female1", "Male5"])
    model = load_checkpoint(_train_base(cfg, people, MYO_CLASSES, spec, encoder, 150.0, tmp_path / "base"))
    person = myo_dir / "EvaluationDataset" / "Male2"
    windows = {}
    for session in ("training0", "Test0"):
        recordings = read_myo_folder(person / session)
        assert model.preprocessing.filter == spec  # the filter the base was trained through
        ws, unknown = model_windows(model, prepare_recordings(recordings, model.preprocessing), 150.0)
        assert not unknown and ws.class_ids == MYO_CLASSES
        windows[session] = (torch.from_numpy(ws.x), torch.from_numpy(ws.y).long())
    result = adapt(
        model,
        *windows["training0"],
        {"Test0": windows["Test0"]},
        AdaptOptions(epochs_a=6, epochs_b=4),
        progress=False,
        say=lambda s: None,
    )
    before, after = result.before["Test0"], result.after["Test0"]
    assert after["R@1"] >= before["R@1"] + 0.1, (before, after)
    assert after["MRR"] > before["MRR"]


def test_a_base_calibrates_as_its_experiment_s_adapt_table_says(base, new_user_sessions, tmp_path, capsys):
    """A base's record of its experiment's [adapt] sets `myostream adapt`'s defaults; what the
    command is told still wins."""
    own = tmp_path / "own"
    shutil.copytree(base, own)
    config = json.loads((own / "config.json").read_text())
    said = {"mode": "finetune", "lda_weight": 0.0, "gain": 0.0, "noise": 0.0}
    config["training"]["experiment"] = {"name": "e", "adapt": said}
    (own / "config.json").write_text(json.dumps(config))
    model = load_checkpoint(own)
    assert calibration_defaults(model) == said and calibration_defaults(load_checkpoint(base)) == {}
    assert AdaptOptions.for_model(load_checkpoint(base)) == AdaptOptions()
    told = AdaptOptions.for_model(model, epochs=5, lda_weight=1.0)
    assert (told.mode, told.lda_weight, told.gain, told.epochs_a + told.epochs_b) == ("finetune", 1.0, 0.0, 5)

    out = tmp_path / "mine"
    argv = ["adapt", "--model", str(own), "--sessions", str(new_user_sessions), "--epochs", "2", "--threads", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "calibration defaults of the base" in capsys.readouterr().out
    options = json.loads((out / "adaptation.json").read_text())["options"]
    assert {k: options[k] for k in said} == said
    assert main([*argv, "--out", str(tmp_path / "fused"), "--lda-weight", "0.5"]) == 0
    assert json.loads((tmp_path / "fused" / "adaptation.json").read_text())["options"]["lda_weight"] == 0.5


def test_without_a_model_the_bundled_base_that_fits_the_sessions_adapts(tmp_path, protocol, monkeypatch):
    """8-channel 1 kHz sessions: the bundled simulated model is the base, and the result goes to runs/, not the package."""
    from myostream.runtime import bundled_checkpoint

    try:
        bundled_checkpoint("simulated")
    except MyostreamError as exc:
        pytest.skip(str(exc))
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    simulate_session(sessions / "s.h5", str(protocol), user=3, session=0, rate=1000.0, subject="new")
    monkeypatch.chdir(tmp_path)
    said = []
    result, out = adapt_sessions(
        None, sessions, options=AdaptOptions(epochs_a=1, epochs_b=0, hop_ms=100.0), progress=False, say=said.append
    )
    assert any("bundled model simulated" in s for s in said)
    assert out == Path("runs") / "simulated-adapted-new" and (tmp_path / out / "config.json").is_file()


def test_a_ring_model_adapted_to_a_person_turns_later_wearings_to_theirs(myo_dir, tmp_path):
    """The adapted model learnt the band as the person wore it in calibration: its orientation reference is
    that wearing's level profile (and its starting level that wearing's level), not the training people's."""
    from myostream.data.myo import read_myo_folder
    from myostream.data.prepare import person_levels
    from myostream.runtime import bundled_for
    from myostream.stream.orientation import level_profile

    base = bundled_for(8, 200.0)  # the bundled Myo armband base: ring band, per-user level
    session = myo_dir / "EvaluationDataset" / "Male0" / "training0"
    _, out = adapt_sessions(
        base.path,
        session,
        tmp_path / "adapted",
        options=AdaptOptions(epochs_a=1, epochs_b=0),
        progress=False,
        say=lambda s: None,
    )
    trained, adapted = load_checkpoint(base.path).preprocessing, load_checkpoint(out).preprocessing
    assert trained.ring and trained.normalisation != "none"
    levels = person_levels(filter_recordings(read_myo_folder(session), trained.filter), trained.normalisation)
    (level,) = levels.values()  # one wearing
    np.testing.assert_allclose(adapted.prior_scale, level, rtol=1e-5)
    np.testing.assert_allclose(adapted.ring_profile, level_profile(level), atol=1e-5)
    assert not np.allclose(adapted.ring_profile, trained.ring_profile, atol=0.05)
    assert replace(adapted, prior_scale=None, ring_profile=None) == replace(
        trained, prior_scale=None, ring_profile=None
    )
