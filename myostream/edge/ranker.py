"""The pipeline's ranker on onnxruntime: an exported folder ranks windows without torch.

    ranker = OnnxRanker.load("myosem-onnx")             # what `myostream export CKPT --onnx` wrote
    pipeline = Pipeline(source, ranker)                  # or runtime.make_pipeline(source, "myosem-onnx")

:class:`OnnxRanker` meets :class:`myostream.stream.pipeline.Ranker`: ``config``, ``preprocessing``,
``class_ids``, ``catalog`` and ``rank(windows, k)``. Its imports are numpy, onnxruntime and the
torch-free parts of myostream, so a board with numpy, scipy, pylsl and onnxruntime runs the
whole live path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from myostream.edge.folder import EMG_FILE, INPUT, Manifest, open_session, read_manifest
from myostream.errors import MyostreamError
from myostream.model.catalog import CatalogEntry
from myostream.model.config import ModelConfig, non_finite_windows
from myostream.preprocess import Preprocessing
from myostream.rejection import Rejection

if TYPE_CHECKING:
    from myostream.edge.text import OnnxTextEncoder


@dataclass(frozen=True)
class EdgeRanking:
    """EMG->text result for a batch of windows, best class first (numpy twin of :class:`myostream.model.BatchRanking`)."""

    class_ids: list[list[str]]
    indices: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray
    attention: np.ndarray | None
    rms: np.ndarray
    z: np.ndarray


class OnnxRanker:
    """An exported model ranking raw prepared windows on onnxruntime (CPU)."""

    backend = "onnx"
    #: where the pipeline reports the model runs (onnxruntime's CPU provider)
    device = "cpu"

    def __init__(self, manifest: Manifest, session: Any) -> None:
        self.manifest = manifest
        self.path = manifest.path
        self.architecture = manifest.architecture
        self.config: ModelConfig = manifest.config
        self.preprocessing: Preprocessing = manifest.preprocessing
        self.class_ids: tuple[str, ...] = manifest.class_ids
        self.catalog: Mapping[str, CatalogEntry] = manifest.catalog
        #: when a window's first description is confident enough to show (None: always)
        self.rejection: Rejection | None = manifest.rejection
        #: the torch checkpoint's ``metadata`` counterpart: how the export was made
        self.metadata: dict[str, Any] = dict(manifest.source)
        self._session = session
        names = [o.name for o in session.get_outputs()]
        inputs = [i.name for i in session.get_inputs()]
        if inputs != [INPUT] or names != list(manifest.outputs):
            raise MyostreamError(
                f"{str(self.path / EMG_FILE)!r} takes {inputs} and gives {names}, but its manifest says "
                f"[{INPUT!r}] -> {list(manifest.outputs)}; the folder is mixed, export the checkpoint again."
            )

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> OnnxRanker:
        """Open an exported folder (``myostream export CKPT --onnx DIR``); ``threads``: onnxruntime intra-op threads."""
        manifest = read_manifest(path)
        return cls(manifest, open_session(manifest.path / EMG_FILE, threads))

    def __repr__(self) -> str:
        return f"OnnxRanker({str(self.path)!r}, {self.architecture}, {len(self.class_ids)} classes)"

    def as_windows(self, windows: Any) -> np.ndarray:
        """Validate raw windows (``[T, C]`` or ``[B, T, C]``) as a contiguous float32 array."""
        try:
            x = np.ascontiguousarray(windows, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise MyostreamError(f"Windows must be a numeric array [batch, samples, channels]; got {exc}.") from None
        if x.ndim == 2:
            x = x[None]
        self.config.check_windows(x.shape)
        finite = np.isfinite(x)
        if not finite.all():
            raise non_finite_windows(sorted({int(c) for c in np.nonzero(~finite)[2]}))
        return x

    def outputs(self, windows: Any) -> dict[str, np.ndarray]:
        """The graph's outputs for validated windows, by name (``scores``, ``z``, ``attention``, ``rms``)."""
        x = self.as_windows(windows)
        return dict(zip(self.manifest.outputs, self._session.run(None, {INPUT: x})))

    def embed(self, windows: Any) -> np.ndarray:
        """Unit-norm embeddings ``z [B, d]`` of raw windows."""
        return self.outputs(windows)["z"]

    def embedding_scores(self, windows: Any) -> np.ndarray:
        """Class scores ``[B, K]`` by the embedding alone: without the person's LDA a calibration
        fused in (the graph's ``embedding_scores``), else the graph's scores."""
        out = self.outputs(windows)
        return out.get("embedding_scores", out["scores"])

    def rank(self, windows: Any, k: int = 5) -> EdgeRanking:
        """Rank the class prototypes for each window by ``z . P_c``, as the torch model's ``rank`` does."""
        out = self.outputs(windows)
        scores = out["scores"]
        k = min(int(k), scores.shape[1])
        # a stable sort keeps equal scores in class order
        indices = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return EdgeRanking(
            class_ids=[[self.class_ids[i] for i in row] for row in indices.tolist()],
            indices=indices,
            scores=np.take_along_axis(scores, indices, axis=1),
            all_scores=scores,
            attention=out.get("attention"),
            rms=out["rms"],
            z=out["z"],
        )

    @property
    def has_text(self) -> bool:
        """Whether the folder holds the text encoder too (``export --text``), for free-text queries."""
        return self.manifest.text is not None

    def text_encoder(self) -> OnnxTextEncoder:
        """The exported text encoder whose space the prototypes live in."""
        from myostream.edge.text import OnnxTextEncoder

        return OnnxTextEncoder.load(self.path)
