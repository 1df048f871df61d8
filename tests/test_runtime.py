"""A ready pipeline from a checkpoint; without one, the bundled model that fits the source."""

from __future__ import annotations

import pytest

from myostream.errors import MyostreamError
from myostream.runtime import bundled_for, bundled_models, make_pipeline
from myostream.stream.simulated import SimulatedArmband


def test_every_bundled_model_is_listed_with_its_signal():
    names = {m.name: (m.n_channels, m.rate) for m in bundled_models()}
    assert names["simulated"] == (8, 1000.0)
    assert names["myo-armband"] == (8, 200.0) and names["ninapro-db1"] == (10, 100.0)


def test_the_bundled_model_that_fits_a_stream_is_chosen():
    assert bundled_for(8, 1000.0).name == "simulated" and bundled_for(8, 200.0).name == "myo-armband"
    assert bundled_for(10, 100.0).name == "ninapro-db1"
    assert bundled_for(8, 500.0).name == "myo-armband"  # resampled down to the real-armband model
    assert bundled_for(8, 100.0).name == "myo-armband"  # nothing at or below: the closest rate above
    with pytest.raises(MyostreamError, match="No bundled model takes 3 channels.*--channels"):
        bundled_for(3, 200.0)


def test_each_bundled_base_calibrates_as_its_recipe_says():
    """A bundled base records its experiment's [adapt] table, so `myostream adapt` calibrates a
    DB1 base as DB1's validation people chose, the Myo armband base as the Myo armband's."""
    from myostream.model.checkpoint import load_checkpoint
    from myostream.train.adapt import AdaptOptions, calibration_defaults
    from myostream.train.experiment import load_experiment

    for model in bundled_models():
        base = load_checkpoint(model.path)
        experiment = base.metadata.get("experiment", {}).get("name")
        recipe = load_experiment(experiment).adapt if experiment else {}
        assert calibration_defaults(base) == recipe, model.name
    db1 = load_checkpoint(bundled_for(10, 100.0).path)
    assert AdaptOptions.for_model(db1) != AdaptOptions()  # DB1 chose its own


def test_a_replayed_ninapro_db1_file_runs_out_of_the_box(db1_dir):
    pipeline = make_pipeline(f"replay:{db1_dir / 'S1_A1_E1.mat'}", device="cpu")
    try:
        assert pipeline.ranker.config.name == "myosem-ninapro-db1" and pipeline.model_rate == 100.0
        with pipeline:
            ranking = pipeline.queue.get(timeout=30.0)
        assert ranking is not None and ranking.top[0].class_id.startswith("ninapro.A")
    finally:
        pipeline.stop()


def test_a_source_no_bundled_model_fits_is_one_sentence():
    with pytest.raises(MyostreamError, match="No bundled model takes 5 channels"):
        make_pipeline(SimulatedArmband(n_channels=5, realtime=False))
