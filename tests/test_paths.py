"""Output folders and files are checked before any work: a file in the way, a read-only folder."""

from __future__ import annotations

import pytest

from myostream.errors import MyostreamError
from myostream.paths import check_output_dir, output_dir, output_file, run_folder


def test_a_file_in_the_way_is_one_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(MyostreamError, match="'.*a-file' is a file, not a folder"):
        check_output_dir(blocker, "the checkpoint")
    with pytest.raises(MyostreamError, match=r"'.*a-file' is a file, not a folder"):
        output_dir(blocker / "run", "the checkpoint")
    with pytest.raises(MyostreamError, match="is a folder; give a file name"):
        output_file(tmp_path, "the screenshot")


def test_a_read_only_folder_is_one_sentence(read_only_dir, tmp_path):
    with pytest.raises(MyostreamError, match="is not writable"):
        check_output_dir(read_only_dir / "run", "the checkpoint")
    with pytest.raises(MyostreamError, match="is not writable"):
        output_file(read_only_dir / "shot.png", "the screenshot")
    assert not (read_only_dir / "run").exists()


def test_check_creates_nothing_and_output_dir_creates_the_folder(tmp_path):
    target = tmp_path / "a" / "b"
    assert check_output_dir(target, "x") == target and not (tmp_path / "a").exists()
    assert output_dir(target, "x").is_dir() and list(target.iterdir()) == []  # the probe file is gone


def test_run_folder_is_removed_when_the_run_stops_on_bad_input(tmp_path):
    new = tmp_path / "new-run"
    with pytest.raises(MyostreamError), run_folder(new, "the checkpoint"):
        (new / "train.jsonl").write_text("{}")
        raise MyostreamError("too few classes")
    assert not new.exists()
    existing = tmp_path / "old-run"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(MyostreamError), run_folder(existing, "the checkpoint"):
        raise MyostreamError("too few classes")
    assert (existing / "keep.txt").read_text() == "mine"
    interrupted = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt), run_folder(interrupted, "the checkpoint"):
        raise KeyboardInterrupt
    assert interrupted.is_dir()  # a run stopped with Ctrl-C keeps its log
