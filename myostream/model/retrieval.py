"""What every EMG->text retrieval model shares: MyoSem and the baselines alike.

A :class:`RetrievalModel` holds frozen, unit-norm class prototypes ``P [K, d]`` (the
text side) with their class ids, standardises raw windows with per-channel statistics
fitted on the training data, validates input at the boundary, and ranks / searches.
Its :attr:`~RetrievalModel.preprocessing` says what its windows went through before
(filter, per-user normalisation, window and hop, channels): every caller that feeds it
signal prepares the signal from that record.
Subclasses implement ``forward(x, stage)`` on validated raw windows ``[B, T, C]``:
``stage=2`` returns at least ``logits`` (plus reconstruction / VQ terms when the model
has them), ``stage=3`` returns ``z`` (unit-norm, ``[B, d]``) and ``logits``; and say which
parameters each training stage trains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.errors import MyostreamError
from myostream.model.catalog import CatalogEntry
from myostream.model.config import ModelConfig, non_finite_windows
from myostream.model.encoder import patchify
from myostream.model.fusion import LDAFusion
from myostream.preprocess import Preprocessing
from myostream.rejection import Rejection


@dataclass(frozen=True)
class BatchRanking:
    """EMG->text result for a batch of windows, best class first (the pipeline turns each window's
    row into a :class:`~myostream.stream.pipeline.HopRanking`).

    ``z`` holds the windows' embeddings ``[B, d]`` (for free-text scoring without a
    second pass); ``attention`` is the semantic queries' attention over patches ``[B, M, N]`` (None for
    models without queries); ``rms`` the per-patch, per-channel RMS ``[B, N, C]`` in the
    signal's unit.
    """

    class_ids: list[list[str]]
    indices: Tensor
    scores: Tensor
    all_scores: Tensor
    attention: Tensor | None
    rms: Tensor
    z: Tensor


@dataclass(frozen=True)
class SearchResult:
    """Text->EMG result: window indices best first and their scores."""

    indices: Tensor
    scores: Tensor


class RetrievalModel(nn.Module):
    architecture = "retrieval"
    # buffers registered in __init__, declared so their Tensor type is known
    input_shift: Tensor
    input_scale: Tensor
    prototypes: Tensor
    text_prototypes: Tensor

    def __init__(
        self, config: ModelConfig, prototypes: Tensor, class_ids: Sequence[str], n_classes: int | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.n_classes = int(n_classes or len(class_ids))
        #: training metadata (set by the trainer, saved in and loaded from checkpoints)
        self.metadata: dict = {}
        #: what the windows went through before the model (saved in and loaded from checkpoints)
        self.preprocessing = Preprocessing(
            rate=config.rate, n_channels=config.n_channels, window_ms=config.window_ms, hop_ms=config.window_ms / 4
        )
        #: when a window's first description is confident enough to show (None: always; saved in checkpoints)
        self.rejection: Rejection | None = None
        #: the person's LDA fused into the class scores after a calibration (None: cosine alone; saved in checkpoints)
        self.fusion: LDAFusion | None = None
        self.register_buffer("input_shift", torch.zeros(config.n_channels))
        self.register_buffer("input_scale", torch.ones(config.n_channels))
        self.register_buffer("prototypes", torch.empty(0, config.d_embed), persistent=False)
        #: the text side's prototypes; ``prototypes`` equals them unless calibration anchored some classes
        self.register_buffer("text_prototypes", torch.empty(0, config.d_embed), persistent=False)
        self.set_prototypes(prototypes, class_ids)

    def set_prototypes(self, prototypes: Tensor, class_ids: Sequence[str]) -> None:
        """Replace the candidate classes (e.g. all classes, seen and held out, at test time)."""
        p = torch.as_tensor(prototypes, dtype=torch.float32)
        if p.ndim != 2 or p.shape[1] != self.config.d_embed or p.shape[0] != len(class_ids):
            raise MyostreamError(
                f"Prototypes have shape {tuple(p.shape)}, expected [{len(class_ids)} classes, {self.config.d_embed}]; "
                "encode one prototype per class id with the model's embedding size."
            )
        if len(set(class_ids)) != len(class_ids):
            raise MyostreamError("Class ids of the prototypes repeat; give each class once.")
        self.prototypes = F.normalize(p, dim=-1).to(self.input_shift.device)
        self.text_prototypes = self.prototypes.clone()
        self.class_ids = tuple(class_ids)
        known = getattr(self, "catalog", {})
        self.catalog = {cid: known.get(cid, CatalogEntry(cid, cid, cid)) for cid in self.class_ids}

    # -- input ---------------------------------------------------------------------------

    @torch.no_grad()
    def fit_input_stats(self, x: Tensor) -> None:
        """Per-channel mean and std of training windows ``[N, T, C]`` (accumulated in float64)."""
        total = torch.zeros(self.config.n_channels, dtype=torch.float64)
        square = torch.zeros_like(total)
        count = 0
        for block in torch.as_tensor(x).split(4096):
            flat = block.reshape(-1, block.shape[-1]).double()
            total += flat.sum(0)
            square += flat.square().sum(0)
            count += flat.shape[0]
        mean = total / count
        std = (square / count - mean.square()).clamp_min(0).sqrt()
        check_statistics(mean.numpy(), std.numpy(), "the model's input statistics")
        self.input_shift.copy_(mean.float())
        self.input_scale.copy_(std.clamp_min(1e-6).float())

    def normalize_input(self, x: Tensor) -> Tensor:
        return (x - self.input_shift) / self.input_scale

    def anchor(self, centres: dict[str, Tensor], weight: float) -> None:
        """Calibration anchors: move each given class's prototype towards the person's own class centre
        in the embedding space, ``P_c = norm((1 - weight) T_c + weight norm(centre_c))`` from the text
        prototype ``T_c``; other classes keep their text prototype. The embedding space stays the text's,
        so free-text queries score as before."""
        if not 0.0 <= weight <= 1.0:
            raise MyostreamError(f"The anchor weight must lie in [0, 1], got {weight}.")
        unknown = sorted(set(centres) - set(self.class_ids))
        if unknown:
            raise MyostreamError(f"Anchors for classes the model does not rank: {', '.join(unknown)}.")
        p = self.text_prototypes.clone()
        for cid, centre in centres.items():
            i = self.class_ids.index(cid)
            c = F.normalize(torch.as_tensor(centre, dtype=torch.float32).to(p.device).reshape(-1), dim=0)
            p[i] = F.normalize((1.0 - weight) * p[i] + weight * c, dim=0)
        self.prototypes = p

    def set_preprocessing(self, preprocessing: Preprocessing) -> None:
        """Record what the model's windows go through; it must describe the windows the config takes."""
        self.config.check_preprocessing(preprocessing)
        self.preprocessing = preprocessing

    def as_windows(self, windows: Tensor | np.ndarray) -> Tensor:
        """Validate raw windows (``[T, C]`` or ``[B, T, C]``) and move them to the model's device."""
        cfg = self.config
        try:
            x = torch.as_tensor(windows, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise MyostreamError(f"Windows must be a numeric array [batch, samples, channels]; got {exc}.") from None
        if x.ndim == 2:
            x = x.unsqueeze(0)
        cfg.check_windows(tuple(x.shape))
        if not bool(torch.isfinite(x).all()):
            raise non_finite_windows(sorted({int(c) for c in torch.nonzero(~torch.isfinite(x))[:, 2].tolist()}))
        return x.to(self.input_shift.device)

    # -- retrieval -----------------------------------------------------------------------

    @torch.inference_mode()
    def embed(self, windows: Tensor | np.ndarray) -> Tensor:
        """Unit-norm embeddings ``z [B, d]`` of raw windows (on the model's device)."""
        with self._eval_mode():
            return self(self.as_windows(windows), stage=3)["z"]

    @torch.inference_mode()
    def rank(self, windows: Tensor | np.ndarray, k: int = 5) -> BatchRanking:
        """Rank the class prototypes for each window by ``z . P_c`` (plus a calibration's
        :class:`~myostream.model.fusion.LDAFusion` term; results on the CPU)."""
        out = self.rank_outputs(self.as_windows(windows))
        scores = out["scores"]
        top = scores.topk(min(k, scores.shape[1]), dim=1)
        indices = top.indices.cpu()
        attention = out.get("attention")
        return BatchRanking(
            class_ids=[[self.class_ids[i] for i in row] for row in indices.tolist()],
            indices=indices,
            scores=top.values.cpu(),
            all_scores=scores.cpu(),
            attention=None if attention is None else attention.cpu(),
            rms=out["rms"].cpu(),
            z=out["z"].cpu(),
        )

    @torch.inference_mode()
    def embedding_scores(self, windows: Tensor | np.ndarray) -> Tensor:
        """Class scores ``[B, K]`` of raw windows by the embedding alone, ``z . P_c``: what
        :meth:`rank` scores without a calibration's LDA (results on the CPU)."""
        out = self.rank_outputs(self.as_windows(windows))
        return out.get("embedding_scores", out["scores"]).cpu()

    def rank_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """What :meth:`rank` reports for validated raw windows ``x``, in one pass: ``scores [B, K]``,
        ``z [B, d]``, ``attention [B, M, N]`` (models with queries) and ``rms [B, N, C]``; with
        a calibration's LDA fused in, also ``embedding_scores [B, K]``, the scores without it.
        The ONNX export traces exactly this."""
        with self._eval_mode():
            out = self(x, stage=3)
        cosine = out["z"] @ self.prototypes.T
        scores = cosine if self.fusion is None else cosine + self.fusion.term(x, self.class_ids)
        result = {"scores": scores, "z": out["z"]}
        if "attention" in out:
            result["attention"] = out["attention"]
        result["rms"] = patch_rms(x, self.config.patch)
        if self.fusion is not None:
            result["embedding_scores"] = cosine
        return result

    @torch.inference_mode()
    def search(
        self, query: str | Tensor | np.ndarray, windows: Tensor | np.ndarray, k: int | None = None
    ) -> SearchResult:
        """Rank windows for a class id (by its score, as :meth:`rank` gives it) or a free text
        embedding ``[d]`` (by cosine)."""
        if isinstance(query, str):
            if query not in self.class_ids:
                raise MyostreamError(f"Unknown class id {query!r}; the model knows {', '.join(self.class_ids)}.")
            scores = self.rank_outputs(self.as_windows(windows))["scores"][:, self.class_ids.index(query)]
        else:
            q = torch.as_tensor(query, dtype=torch.float32).reshape(-1)
            if q.shape[0] != self.config.d_embed:
                raise MyostreamError(
                    f"A text embedding for model {self.config.name!r} has {self.config.d_embed} values, "
                    f"not {q.shape[0]}; encode the text with the checkpoint's text space."
                )
            q = F.normalize(q, dim=0).to(self.prototypes.device)
            scores = self.embed(windows) @ q
        order = scores.argsort(descending=True)[: k or None]
        return SearchResult(indices=order.cpu(), scores=scores[order].cpu())

    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        # switching modes walks every submodule: skip it on the live path (already in eval)
        if not self.training:
            yield
            return
        self.eval()
        try:
            yield
        finally:
            self.train()

    # -- what each stage trains ----------------------------------------------------------

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Stage 2: the encoder and its stage-2 heads."""
        raise NotImplementedError

    def alignment_parameters(self) -> list[nn.Parameter]:
        """Stage 3, phase A: projection (and queries)."""
        raise NotImplementedError

    def tail_parameters(self, n_layers: int) -> list[nn.Parameter]:
        """Stage 3, phase B: the encoder's last ``n_layers`` layers and the classifier."""
        raise NotImplementedError


def check_statistics(mean: np.ndarray, std: np.ndarray, what: str) -> None:
    """Refuse per-channel statistics that are not finite: they would turn every window into NaN."""
    bad = ~(np.isfinite(np.asarray(mean)) & np.isfinite(np.asarray(std)))
    if bad.any():
        channels = ", ".join(str(int(c)) for c in np.flatnonzero(bad))
        raise MyostreamError(
            f"The training windows hold NaN or infinite values (channel {channels}), so {what} would be NaN; "
            "repair the recordings with nonfinite='drop' or 'interpolate' before training."
        )


def patch_rms(x: Tensor, patch: int) -> Tensor:
    """Per-patch, per-channel RMS (around the patch mean) of raw windows: ``[B, N, C]``."""
    return patchify(x, patch).var(dim=2, unbiased=False).sqrt()
