"""Test setup shared by every test.

LSL must stay on this machine: before anything imports pylsl, point liblsl at the
loopback configuration (ResolveScope = machine) through ``LSLAPICFG``. Qt runs offscreen.
Real recordings come from ``../shared/data`` and tests that need them skip when absent.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from myostream.stream.lslconfig import LOOPBACK_CONFIG

_cfg = Path(tempfile.gettempdir()) / f"myostream-tests-lsl-{os.getpid()}.cfg"
_cfg.write_text(LOOPBACK_CONFIG)
os.environ["LSLAPICFG"] = str(_cfg)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# computed text spaces are shared by every command through the user's cache: tests get their own
os.environ.setdefault("MYOSTREAM_CACHE", tempfile.mkdtemp(prefix="myostream-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MYOSTREAM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _lsl_is_loopback():
    """Every test session runs with liblsl on the loopback configuration."""
    from myostream.stream.lslconfig import lsl_scope

    assert "LSLAPICFG" in os.environ and "machine" in Path(os.environ["LSLAPICFG"]).read_text()
    lsl_scope()
    yield


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The test models are tiny and the cores are shared: one torch thread is fastest."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test sees the same random tensors, run alone or in any order."""
    import torch

    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def user_data(tmp_path_factory, monkeypatch) -> Path:
    """Person models (``platformdirs.user_data_dir``, which follows XDG_DATA_HOME here) go to a fresh
    folder in every test, never into the user's own."""
    folder = tmp_path_factory.mktemp("user-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture
def stream_name() -> str:
    """A unique LSL stream name, so parallel test runs never see each other's streams."""
    return f"myostream-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def db1_dir() -> Path:
    d = SHARED_DATA / "ninapro-db1"
    if not (d / "S1_A1_E1.mat").is_file():
        pytest.skip(f"real NinaPro DB1 recordings not found in {d} (shared data folder absent)")
    return d


@pytest.fixture(scope="session")
def myo_dir() -> Path:
    d = SHARED_DATA / "myo-armband"
    if not (d / "EvaluationDataset").is_dir():
        pytest.skip(f"real Myo armband recordings not found in {d} (shared data folder absent)")
    return d


@pytest.fixture
def read_only_dir(tmp_path) -> Path:
    """A folder nobody may write into (mode 555, or ``/sys/fs`` where permission bits do not bind, as for root)."""
    from myostream_reports.reliability import read_only_folder

    folder = read_only_folder(tmp_path)
    yield folder
    if folder.is_relative_to(tmp_path):
        folder.chmod(0o755)
