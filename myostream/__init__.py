"""myostream: real-time wearable EMG, from armband to ranked natural-language descriptions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("myostream")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
