"""The one exception type users see for bad input.

Every boundary (file readers, device and stream lookup, model loading) raises
:class:`MyostreamError` with one sentence that names the thing and says what to do.
The CLI prints that sentence without a traceback.
"""


class MyostreamError(Exception):
    """Bad input or an unavailable resource, explained in one sentence."""
