from myostream.cli import main
from myostream_reports.bench import GROUPS, MODEL_OPTION, one_core


def test_resample_is_a_bench_group_and_only_it_takes_a_model(capsys):
    assert "resample" in GROUPS and set(MODEL_OPTION) <= {m for names in GROUPS.values() for m in names}
    assert main(["bench", "stream", "--model", "models/bundled/simulated"]) == 2
    assert "--model applies to `myostream report bench resample`" in capsys.readouterr().err


def test_one_core_restores_the_affinity():
    import os

    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    with one_core() as how:
        if before is not None:
            assert how == "pinned to one core" and len(os.sched_getaffinity(0)) == 1
    if before is not None:
        assert os.sched_getaffinity(0) == before
