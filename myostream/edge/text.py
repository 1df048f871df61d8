"""Free-text queries without torch: the exported text encoder on onnxruntime, tokenised by ``tokenizers``.

``export --text`` writes ``text.onnx`` (backbone, mean pooling, projection, L2 norm: what
:meth:`myostream.text.encoder.TextEncoder.encode` computes) and the text model's
``tokenizer.json`` set to pad to the longest text and cut at the encoder's ``max_length``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from myostream.edge.folder import TEXT_FILE, TEXT_INPUTS, TEXT_OUTPUT, TOKENIZER_FILE, open_session, read_manifest
from myostream.errors import MyostreamError


def read_tokenizer(path: Path) -> Any:
    """A ``tokenizers.Tokenizer`` from its JSON file, or one sentence saying what is wrong."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MyostreamError(
            "Free-text queries on the ONNX backend need the tokenizers package, which is not installed; "
            "pip install tokenizers."
        ) from None
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for unreadable files
        raise MyostreamError(
            f"{str(path)!r} is not a readable tokenizer ({exc}); export the checkpoint again."
        ) from None


class OnnxTextEncoder:
    """Texts -> L2-normalised ``dim``-vectors, like ``TextEncoder.encode``, on onnxruntime."""

    def __init__(self, session: Any, tokenizer: Any, dim: int, batch_size: int) -> None:
        self._session = session
        self.tokenizer = tokenizer
        self.dim = dim
        self.batch_size = batch_size
        inputs = [i.name for i in session.get_inputs()]
        if inputs != list(TEXT_INPUTS):
            raise MyostreamError(f"The exported text encoder takes {inputs}, not {list(TEXT_INPUTS)}; export again.")

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> OnnxTextEncoder:
        """The text encoder of an exported folder (written by ``myostream export CKPT --onnx DIR --text``)."""
        manifest = read_manifest(folder)
        if manifest.text is None:
            raise MyostreamError(
                f"Exported folder {str(manifest.path)!r} has no text encoder; free-text queries need it: "
                "export the checkpoint again with --text."
            )
        session = open_session(manifest.path / TEXT_FILE, threads)
        return cls(session, read_tokenizer(manifest.path / TOKENIZER_FILE), manifest.text.dim, manifest.text.batch_size)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask ``[n, L]`` (int64), padded to the longest text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
        }

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """L2-normalised embeddings float32[n, dim], in batches."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise MyostreamError("encode takes a list of strings (wrap a single text in a list).")
        texts = list(texts)
        size = batch_size or self.batch_size
        parts = [
            self._session.run([TEXT_OUTPUT], self.tokenize(texts[i : i + size]))[0] for i in range(0, len(texts), size)
        ]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, self.dim), np.float32)
