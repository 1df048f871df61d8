"""Recorded EMG: dataset readers, labelled windows, normalisation and evaluation protocols."""

from myostream.data.readers import read_dataset, read_recording
from myostream.data.splits import (
    PROTOCOLS,
    Split,
    cross_class_split,
    cross_dataset,
    cross_user_split,
    random_split,
    repetition_split,
)
from myostream.data.windows import WindowSet, extract_windows

__all__ = [
    "PROTOCOLS",
    "Split",
    "WindowSet",
    "cross_class_split",
    "cross_dataset",
    "cross_user_split",
    "extract_windows",
    "random_split",
    "read_dataset",
    "read_recording",
    "repetition_split",
]
