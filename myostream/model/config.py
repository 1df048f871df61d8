"""Model configs: ``models/<name>.toml`` read into :class:`ModelConfig`.

One file per dataset setup (open_clip style: configs are data, the code is a small
library). A file has top-level ``name``/``description``, a ``[model]`` table (the
architecture and the signal it expects), ``[stage2]`` and ``[stage3]`` tables (training
hyperparameters) and any further tables (e.g. ``[data]``) kept verbatim in
:attr:`ModelConfig.extra` for the run orchestration.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import ConfigDict

from myostream.errors import MyostreamError
from myostream.resources import resource_dir
from myostream.schema import Table, read_toml, table_for, validate

if TYPE_CHECKING:
    from myostream.preprocess import Preprocessing


@dataclass(frozen=True)
class Stage2Config:
    """Stage 2 (encoder pre-training): L_cls + lambda_rec L_rec + lambda_vq L_vq."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    lambda_rec: float = 0.5
    lambda_vq: float = 0.25
    #: weight of the commitment term inside L_vq (VQ-VAE's beta)
    commitment: float = 0.25
    #: keep the epoch with the best validation accuracy (epochs is then an upper bound), not the last
    select_best: bool = True


@dataclass(frozen=True)
class Stage3Config:
    """Stage 3 (semantic alignment): InfoNCE against frozen prototypes + lambda_aux CE.

    Phase A trains the projection and queries (``epochs_a`` at ``lr``); phase B also
    unfreezes the encoder's last ``unfreeze_layers`` layers at the lower ``lr_b``.
    """

    epochs_a: int = 20
    epochs_b: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_b: float = 1e-4
    weight_decay: float = 0.01
    unfreeze_layers: int = 1
    temperature: float = 0.07
    lambda_aux: float = 0.1
    #: keep the epoch (of either phase) with the best validation R@1, not the last
    select_best: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of MyoSem (and the baselines) and the signal it accepts."""

    name: str
    n_channels: int
    rate: float
    window_ms: float
    #: samples per temporal patch (p)
    patch: int
    description: str = ""
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    ff_mult: int = 2
    codebook_size: int = 64
    d_embed: int = 256
    #: learnable semantic queries (M)
    n_queries: int = 4
    #: fusion weight of the query embedding: z = norm((1-alpha) z_global + alpha z_query)
    alpha: float = 0.5
    #: initial value of the descriptor gates g_e, g_v (sigmoid(-4) ~ 0.018)
    gate_init: float = -4.0
    descriptor_hidden: int = 32
    dropout: float = 0.1
    #: ablation switches: activation-aware descriptors, semantic queries
    descriptors: bool = True
    queries: bool = True
    stage2: Stage2Config = field(default_factory=Stage2Config)
    stage3: Stage3Config = field(default_factory=Stage3Config)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"Model config {self.name!r}"
        if self.n_channels < 1 or not self.rate > 0 or not self.window_ms > 0:
            raise MyostreamError(f"{where} needs n_channels >= 1, rate > 0 and window_ms > 0.")
        if self.patch < 2:
            raise MyostreamError(
                f"{where} has patch = {self.patch}; a patch needs at least 2 samples (var_t uses differences)."
            )
        exact = self.window_ms * self.rate / 1000.0
        if not math.isclose(exact, round(exact), abs_tol=1e-6) or round(exact) % self.patch:
            raise MyostreamError(
                f"{where}: a {self.window_ms} ms window at {self.rate} Hz is {exact:g} samples, "
                f"not a whole multiple of patch = {self.patch}; change window_ms or patch."
            )
        if self.d_model % self.n_heads:
            raise MyostreamError(f"{where}: d_model = {self.d_model} is not divisible by n_heads = {self.n_heads}.")
        if not 0.0 <= self.alpha <= 1.0:
            raise MyostreamError(f"{where}: alpha = {self.alpha} must lie in [0, 1].")

    @property
    def window_samples(self) -> int:
        return round(self.window_ms * self.rate / 1000.0)

    @property
    def n_patches(self) -> int:
        return self.window_samples // self.patch

    def check_preprocessing(self, pre: Preprocessing) -> None:
        """Raise a :class:`MyostreamError` unless ``pre`` describes the windows this config takes."""
        if (
            pre.n_channels != self.n_channels
            or abs(pre.rate - self.rate) > 1e-6 * self.rate
            or abs(pre.window_ms - self.window_ms) > 1e-6
        ):
            raise MyostreamError(
                f"Preprocessing for {pre.n_channels} channels at {pre.rate:g} Hz in {pre.window_ms:g} ms windows does "
                f"not fit model {self.name!r} ({self.n_channels} channels, {self.rate:g} Hz, {self.window_ms:g} ms)."
            )

    def check_windows(self, shape: tuple[int, ...]) -> None:
        """Raise a :class:`MyostreamError` unless ``shape`` is ``[batch, window_samples, n_channels]``
        (every backend validates its input here, so all say the same sentence)."""
        if len(shape) != 3:
            raise MyostreamError(f"Windows must be [batch, samples, channels]; got shape {tuple(shape)}.")
        if shape[2] != self.n_channels:
            raise MyostreamError(
                f"Model {self.name!r} expects {self.n_channels} channels but the windows have {shape[2]}; "
                f"use a model trained for {shape[2]} channels or select {self.n_channels} of them."
            )
        if shape[1] != self.window_samples:
            raise MyostreamError(
                f"Model {self.name!r} expects windows of {self.window_samples} samples ({self.window_ms:g} ms at "
                f"{self.rate:g} Hz) but got {shape[1]}; cut windows of {self.window_ms:g} ms."
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "model config") -> ModelConfig:
        """Build from the flat form :meth:`to_dict` writes (also used by checkpoints)."""
        return _model_config(validate(ModelDict, d, where, example=EXAMPLE).given())


def non_finite_windows(channels: list[int]) -> MyostreamError:
    """The error for windows holding NaN or infinite samples in ``channels``."""
    return MyostreamError(
        f"Windows contain NaN or infinite samples (channel index {channels}); "
        "interpolate or drop those samples before inference."
    )


# ----------------------------------------------------------------------------- the file

EXAMPLE = "models/myosem-simulated.toml"


if TYPE_CHECKING:
    # table_for builds these with pydantic's create_model at run time, which a type checker cannot
    # follow; to it they are what they are built as, Tables (their keys reach callers through given())
    Stage2Table: TypeAlias = Table
    Stage3Table: TypeAlias = Table
    ModelTable: TypeAlias = Table
    ModelDict: TypeAlias = Table
else:
    Stage2Table = table_for(Stage2Config)
    Stage3Table = table_for(Stage3Config)
    #: ``[model]``: the signal the model takes and its architecture
    ModelTable = table_for(ModelConfig, exclude=("name", "description", "stage2", "stage3", "extra"))
    #: the flat form of :meth:`ModelConfig.to_dict` (checkpoints store it)
    ModelDict = table_for(ModelConfig, stage2=Stage2Table, stage3=Stage3Table, extra=dict[str, Any])


class ModelFile(Table):
    """A model config file; further tables (``[data]``, ...) are kept for the run orchestration."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, dict[str, Any]]

    name: str | None = None
    description: str = ""
    model: ModelTable
    stage2: Stage2Table = Stage2Table()
    stage3: Stage3Table = Stage3Table()


def _model_config(flat: dict[str, Any]) -> ModelConfig:
    """The config from validated flat keys (stage tables as :class:`Table` s)."""
    stages = {k: cls(**flat[k].given()) for k, cls in (("stage2", Stage2Config), ("stage3", Stage3Config)) if k in flat}
    return ModelConfig(**{**flat, **stages})


def config_dir() -> Path:
    return resource_dir("models")


def list_configs() -> list[str]:
    """Names of the shipped model configs (``models/*.toml``), sorted."""
    return sorted(p.stem for p in config_dir().glob("*.toml"))


def load_config(name_or_path: str | Path) -> ModelConfig:
    """Load a config by name (``"myosem-simulated"``) or from a ``.toml`` path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = config_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            raise MyostreamError(
                f"Unknown model config {str(name_or_path)!r}; choose one of {', '.join(list_configs())} "
                "or give a path to a .toml file."
            )
    raw = validate(ModelFile, read_toml(path, "Model config"), f"Model config {str(path)!r}", example=EXAMPLE)
    return _model_config(
        {
            **raw.model.given(),
            "name": raw.name or path.stem,
            "description": raw.description,
            "stage2": raw.stage2,
            "stage3": raw.stage3,
            "extra": dict(raw.model_extra or {}),
        }
    )
