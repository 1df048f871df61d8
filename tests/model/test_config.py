from __future__ import annotations

import pytest

from myostream.errors import MyostreamError
from myostream.model.config import ModelConfig, list_configs, load_config


def test_shipped_configs_load_with_whole_patches():
    names = list_configs()
    assert {"myosem-simulated", "myosem-ninapro-db1", "myosem-myo"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.n_patches * cfg.patch == cfg.window_samples
    sim, db1, myo = load_config("myosem-simulated"), load_config("myosem-ninapro-db1"), load_config("myosem-myo")
    assert (sim.n_channels, sim.rate, db1.n_channels, db1.rate, myo.n_channels, myo.rate) == (8, 1000, 10, 100, 8, 200)
    assert sim.stage3.unfreeze_layers >= 1 and sim.stage2.lambda_rec > 0


def test_dict_round_trip():
    cfg = load_config("myosem-ninapro-db1")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(MyostreamError, match="myosem-simulated"):
        load_config("no-such-model")


def test_bad_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(MyostreamError, match="not valid TOML"):
        load_config(bad)
    bad.write_text("[model]\nn_channels = 8\nrate = 1000.0\nwindow_ms = 200\npatch = 20\nlayers = 3\n")
    with pytest.raises(MyostreamError, match=r"\[model\] has unknown key 'layers'; allowed keys are alpha, "):
        load_config(bad)
    bad.write_text("[model]\nn_channels = 8\nrate = 1000.0\nwindow_ms = 200\npatch = 30\n")
    with pytest.raises(MyostreamError, match="not a whole multiple of patch = 30"):
        load_config(bad)
    bad.write_text("[model]\nn_channels = 8\n")
    with pytest.raises(MyostreamError, match=r"\[model\] lacks the keys 'rate', 'window_ms', 'patch'; add them"):
        load_config(bad)


def test_extra_tables_are_kept_for_the_orchestration(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        "[model]\nn_channels = 2\nrate = 100.0\nwindow_ms = 100\npatch = 5\n"
        "[stage2]\nepochs = 3\n[data]\ndataset = 'ninapro-db1'\n"
    )
    cfg = load_config(path)
    assert cfg.name == "mine" and cfg.stage2.epochs == 3 and cfg.extra == {"data": {"dataset": "ninapro-db1"}}
