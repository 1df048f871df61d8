"""Fixtures of the data tests (the file writers live in layouts.py)."""

from tests.data.layouts import db2_dir

__all__ = ["db2_dir"]
