"""Where results go: output folders and files checked before any work starts.

A command that writes (a checkpoint, a report, a screenshot, a session file) checks its
destination up front with these helpers, so a read-only folder, a path under a file or a
full disk is one sentence before minutes of work, never a traceback afterwards. The
checks write and delete a probe file: permission bits alone do not say whether a folder
is writable (root ignores them, read-only mounts do not show in them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from myostream.errors import MyostreamError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _existing_ancestor(path: Path, what: str) -> Path:
    """The deepest part of ``path`` that exists; it must be a folder."""
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise MyostreamError(
                    f"Cannot write {what} to {str(path)!r}: {str(parent)!r} is a file, not a folder; "
                    "choose another path."
                )
            return parent
    return Path(".")


def _probe(folder: Path, what: str, target: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".myostream-probe-", dir=folder)
    except OSError as exc:
        raise MyostreamError(
            f"Cannot write {what} to {str(target)!r}: folder {str(folder)!r} is not writable ({_reason(exc)}); "
            "choose a writable folder."
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: str | Path, what: str, target: Path | None = None) -> Path:
    """Check that folder ``path`` exists writable or can be created there, without creating it.

    ``target``: the file the folder is for, named in the sentence instead of the folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MyostreamError(
            f"Cannot write {what} to {str(target or path)!r}: {str(path)!r} is a file, not a folder; "
            "choose another path."
        )
    _probe(_existing_ancestor(path, what), what, target or path)
    return path


def output_dir(path: str | Path, what: str, target: Path | None = None) -> Path:
    """Create folder ``path`` (and its parents) if needed and check that it is writable."""
    path = check_output_dir(path, what, target)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MyostreamError(
            f"Cannot create the folder {str(path)!r} for {what} ({_reason(exc)}); choose a writable folder."
        ) from None
    _probe(path, what, target or path)
    return path


def output_file(path: str | Path, what: str) -> Path:
    """Check that file ``path`` can be written (its folder created if needed); it is not created."""
    path = Path(path)
    if path.is_dir():
        raise MyostreamError(f"Cannot write {what} to {str(path)!r}: it is a folder; give a file name.")
    output_dir(path.parent, what, target=path)
    return path


@contextmanager
def run_folder(path: str | Path, what: str) -> Iterator[Path]:
    """Create ``path`` for a run's output; if the run stops on bad input, a folder this call created is removed.

    Bad data found after the folder was made (windows longer than every recording, too
    few classes) then leaves no empty or half-written folder behind. A folder that already
    existed is never touched, nor is anything after an interruption or a crash: the log of
    a long run stopped with Ctrl-C stays for the user to read.
    """
    path = Path(path)
    created = not path.exists()
    output_dir(path, what)
    try:
        yield path
    except MyostreamError:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise


def cache_dir() -> Path:
    """Where computed things that any command may reuse are kept (stage-1 text spaces):
    ``MYOSTREAM_CACHE``, else the user's cache folder (``~/.cache/myostream`` on Linux)."""
    if os.environ.get("MYOSTREAM_CACHE"):
        return Path(os.environ["MYOSTREAM_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("myostream"))
