"""EMG-side baselines (paper A.3): each backbone's segment embedding is projected to ``d``
and aligned to the same frozen prototypes as MyoSem, and trains through the same stages
(stage 2: classification; stage 3: InfoNCE + aux CE, projection first, then the last
backbone block).

- ``tcn``: temporal convolutional network (Bai et al. 2018): causal dilated residual blocks.
- ``cnn_bilstm``: two 1-D convolutions then a bidirectional LSTM, mean over time.
- ``atzori_cnn``: the CNN of Atzori et al. 2016 for NinaPro (1 x C filters across the
  electrodes, 3x3 and 5x5 blocks with 3x3 average pooling, a 5x1 block). Adapted so any
  window size works: "same" padding (the electrode filter is 1 x C rounded up to an odd
  width so it centres) and a global average pool in place of the final 1x1 convolution
  + softmax (the classifier is the shared linear head).
- ``hudgins_linear``: Hudgins time-domain features per channel (MAV, WL, ZC, SSC),
  standardised with training-set statistics, then linear maps (the LDA / linear
  classifier role: a linear classifier and a linear projection to ``d``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.errors import MyostreamError
from myostream.model.config import ModelConfig
from myostream.model.features import hudgins_features
from myostream.model.retrieval import RetrievalModel


class Backbone(nn.Module):
    """A baseline encoder: windows ``[B, T, C]`` -> segment embeddings ``[B, out_dim]``."""

    out_dim: int

    def tail(self, n: int) -> list[nn.Module]:
        """The last ``n`` blocks, the ones stage 3 fine-tunes after the projection."""
        raise NotImplementedError


class _TemporalBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, dilation=dilation)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        # left padding only: the output at t sees samples <= t (causal)
        y = self.drop(F.relu(self.conv1(F.pad(x, (self.pad, 0)))))
        y = self.drop(F.relu(self.conv2(F.pad(y, (self.pad, 0)))))
        return F.relu(y + self.skip(x))


class TCN(Backbone):
    def __init__(self, config: ModelConfig, levels: int = 3, kernel: int = 3) -> None:
        super().__init__()
        w = config.d_model
        self.blocks = nn.ModuleList(
            _TemporalBlock(config.n_channels if i == 0 else w, w, kernel, 2**i, config.dropout) for i in range(levels)
        )
        self.out_dim = w

    def forward(self, x: Tensor) -> Tensor:
        y = x.transpose(1, 2)
        for block in self.blocks:
            y = block(y)
        return y.mean(dim=2)

    def tail(self, n: int) -> list[nn.Module]:
        return list(self.blocks)[-n:] if n > 0 else []


class CNNBiLSTM(Backbone):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        w = config.d_model
        self.conv = nn.Sequential(
            nn.Conv1d(config.n_channels, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(w, w, 3, padding=1),
            nn.ReLU(),
            nn.Dropout(config.dropout),
        )
        self.lstm = nn.LSTM(w, w, batch_first=True, bidirectional=True)
        self.out_dim = 2 * w

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.lstm(y)[0].mean(dim=1)

    def tail(self, n: int) -> list[nn.Module]:
        return [self.lstm, self.conv][:n]


class AtzoriCNN(Backbone):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config.n_channels

        def block(c_in: int, c_out: int, kernel: tuple[int, int], pool: bool) -> nn.Sequential:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, padding="same"), nn.ReLU()]
            if pool:
                layers += [nn.Dropout(config.dropout), nn.AvgPool2d(3, ceil_mode=True)]
            return nn.Sequential(*layers)

        self.blocks = nn.ModuleList(
            [
                block(1, 32, (1, c | 1), pool=False),
                block(32, 32, (3, 3), pool=True),
                block(32, 64, (5, 5), pool=True),
                block(64, 64, (5, 1), pool=False),
            ]
        )
        self.out_dim = 64

    def forward(self, x: Tensor) -> Tensor:
        y = x.unsqueeze(1)  # [B, 1, T, C]: time x electrodes image
        for b in self.blocks:
            y = b(y)
        return y.mean(dim=(2, 3))

    def tail(self, n: int) -> list[nn.Module]:
        return list(self.blocks)[-n:] if n > 0 else []


class HudginsFeatures(Backbone):
    shift: Tensor
    scale: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.out_dim = 4 * config.n_channels
        self.register_buffer("shift", torch.zeros(self.out_dim))
        self.register_buffer("scale", torch.ones(self.out_dim))

    @torch.no_grad()
    def fit(self, blocks: Iterable[Tensor]) -> None:
        """Feature mean and std over standardised training windows, given block by block."""
        f = torch.cat([hudgins_features(block) for block in blocks])
        self.shift.copy_(f.mean(0))
        self.scale.copy_(f.std(0).clamp_min(1e-6))

    def forward(self, x: Tensor) -> Tensor:
        return (hudgins_features(x) - self.shift) / self.scale

    def tail(self, n: int) -> list[nn.Module]:
        return []


BACKBONES: dict[str, Callable[[ModelConfig], Backbone]] = {
    "tcn": TCN,
    "cnn_bilstm": CNNBiLSTM,
    "atzori_cnn": AtzoriCNN,
    "hudgins_linear": HudginsFeatures,
}


class BaselineModel(RetrievalModel):
    """A baseline backbone + linear classifier (stage 2) + projection to ``d`` (stage 3)."""

    def __init__(
        self,
        architecture: str,
        config: ModelConfig,
        prototypes: Tensor,
        class_ids: Sequence[str],
        n_classes: int | None = None,
    ) -> None:
        if architecture not in BACKBONES:
            raise MyostreamError(f"Unknown baseline {architecture!r}; choose one of {', '.join(BACKBONES)}.")
        super().__init__(config, prototypes, class_ids, n_classes)
        self.architecture = architecture
        self.backbone = BACKBONES[architecture](config)
        dim = self.backbone.out_dim
        # same projection shape as MyoSem's f_proj, so the comparison is about the encoder
        self.proj = nn.Sequential(nn.Linear(dim, config.d_model), nn.GELU(), nn.Linear(config.d_model, config.d_embed))
        self.classifier = nn.Linear(dim, self.n_classes)

    @torch.no_grad()
    def fit_input_stats(self, x: Tensor) -> None:
        super().fit_input_stats(x)
        if isinstance(self.backbone, HudginsFeatures):
            self.backbone.fit(self.normalize_input(b) for b in torch.as_tensor(x).split(4096))

    def forward(self, x: Tensor, stage: int = 3) -> dict[str, Tensor]:
        f = self.backbone(self.normalize_input(x))
        logits = self.classifier(f)
        if stage == 2:
            return {"logits": logits}
        return {"z": F.normalize(self.proj(f), dim=-1), "logits": logits}

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.backbone.parameters(), *self.classifier.parameters()]

    def alignment_parameters(self) -> list[nn.Parameter]:
        return list(self.proj.parameters())

    def tail_parameters(self, n_layers: int) -> list[nn.Parameter]:
        modules = [*self.backbone.tail(n_layers), self.classifier]
        return [p for m in modules for p in m.parameters()]
