"""Recorded EMG: dataset readers, labelled windows, normalisation and evaluation protocols."""

from myostream.data.readers import read_dataset, read_recording
from myostream.data.recording import Recording, concatenate
from myostream.data.splits import (
    PROTOCOLS,
    Split,
    cross_class_split,
    cross_dataset,
    cross_user_split,
    make_split,
    random_split,
    repetition_split,
)
from myostream.data.windows import Normalizer, WindowSet, extract_windows, fit_normalizer

__all__ = [
    "PROTOCOLS",
    "Normalizer",
    "Recording",
    "Split",
    "WindowSet",
    "concatenate",
    "cross_class_split",
    "cross_dataset",
    "cross_user_split",
    "extract_windows",
    "fit_normalizer",
    "make_split",
    "random_split",
    "read_dataset",
    "read_recording",
    "repetition_split",
]
