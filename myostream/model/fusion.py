"""A person's classic classifier fused into the model's ranking at calibration.

After a person calibrates, two classifiers know them: the adapted embedding (cosine with the
class prototypes) and a shrinkage LDA on Hudgins features of the very same calibration windows
(:class:`~myostream.model.lda.HudginsLDA`, the field's per-person baseline). On the validation
people of ``myostream report transfer`` they err on different windows, and the sum of their log
posteriors beats either. The fused score of class ``c`` for window ``x`` is

    s_c(x) = cos(z(x), P_c) + weight * temperature * log p_LDA(c | x)

in the cosine's units (``temperature``: the model's stage-3 softmax temperature, so ``weight``
weighs the two log posteriors), and a class the person did not calibrate gets the LDA's
uniform ``log(1 / K')`` over its ``K'`` calibrated classes: the LDA has no evidence for or
against it. Free-text queries are scored by the cosine alone: the LDA knows only classes.

The fusion holds plain tensors (no ``nn.Module``), so it never enters the model's weights;
checkpoints store it next to the prototypes, and ONNX exports trace it as constants.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from myostream.errors import MyostreamError
from myostream.model.features import hudgins_features
from myostream.model.lda import HudginsLDA

#: the tensors a fusion stores (in a checkpoint's prototypes file, with this prefix)
TENSORS = ("shift", "scale", "coef", "intercept")
PREFIX = "fusion_"


@dataclass(frozen=True)
class LDAFusion:
    """A fitted per-person LDA and how much it weighs in the ranking (see the module docstring).

    ``shift``/``scale [C]`` standardise raw windows before the Hudgins features; ``coef [K', 4C]``
    and ``intercept [K']`` are the LDA's discriminants; ``classes`` the class ids of its ``K'`` rows.
    """

    classes: tuple[str, ...]
    shift: Tensor
    scale: Tensor
    coef: Tensor
    intercept: Tensor
    weight: float
    temperature: float

    def __post_init__(self) -> None:
        k, f = self.coef.shape
        if len(self.classes) != k or len(set(self.classes)) != k or k < 2:
            raise MyostreamError(f"An LDA fusion needs one row per class and at least two classes; got {k} rows.")
        if self.shift.shape != self.scale.shape or f != 4 * self.shift.shape[0] or self.intercept.shape != (k,):
            raise MyostreamError("An LDA fusion's tensors do not fit together; the checkpoint is corrupt.")
        if not (self.weight >= 0 and self.temperature > 0):
            raise MyostreamError(
                f"An LDA fusion needs weight >= 0 and temperature > 0; got {self.weight}, {self.temperature}."
            )

    @classmethod
    def fit(
        cls, windows: np.ndarray, labels: np.ndarray, class_ids: Sequence[str], weight: float, temperature: float
    ) -> LDAFusion:
        """Fit on raw windows ``[N, T, C]`` whose labels index ``class_ids``."""
        lda = HudginsLDA().fit(windows, labels)
        return cls(
            classes=tuple(class_ids[int(c)] for c in lda.lda_.classes_),
            shift=torch.from_numpy(lda.mean_).float(),
            scale=torch.from_numpy(lda.std_).float(),
            coef=torch.from_numpy(lda.lda_.coef_).float(),
            intercept=torch.from_numpy(lda.lda_.intercept_).float(),
            weight=float(weight),
            temperature=float(temperature),
        )

    def term(self, x: Tensor, class_ids: Sequence[str]) -> Tensor:
        """What the fusion adds to the cosine scores ``[B, K]`` of raw windows ``x [B, T, C]``
        ranked against ``class_ids``."""
        device = x.device
        features = hudgins_features((x - self.shift.to(device)) / self.scale.to(device))
        log_p = torch.log_softmax(features @ self.coef.to(device).T + self.intercept.to(device), dim=1)
        rows = [class_ids.index(c) for c in self.classes if c in class_ids]
        mine = [i for i, c in enumerate(self.classes) if c in class_ids]
        out = torch.full((x.shape[0], len(class_ids)), -math.log(len(self.classes)), device=device)
        if rows:  # a scatter, so the ONNX graph holds the rows as constants
            index = torch.tensor(rows, device=device).expand(x.shape[0], -1)
            out = out.scatter(1, index, log_p[:, mine])
        return (self.weight * self.temperature) * out

    def to_record(self) -> dict[str, object]:
        """What a checkpoint's config says about the fusion (the tensors go with the prototypes)."""
        return {"classes": list(self.classes), "weight": self.weight, "temperature": self.temperature}

    def tensors(self) -> dict[str, Tensor]:
        return {PREFIX + name: getattr(self, name).detach().cpu().float().contiguous() for name in TENSORS}

    @classmethod
    def from_record(cls, record: Mapping[str, object], tensors: Mapping[str, Tensor], where: str) -> LDAFusion:
        missing = [PREFIX + n for n in TENSORS if PREFIX + n not in tensors]
        if missing:
            raise MyostreamError(f"{where} describes an LDA fusion but lacks its tensors {', '.join(missing)}.")
        try:
            classes = tuple(str(c) for c in record["classes"])  # type: ignore[attr-defined]
            weight, temperature = float(record["weight"]), float(record["temperature"])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise MyostreamError(f"{where}: the LDA fusion record is malformed ({exc!r}).") from None
        shift, scale, coef, intercept = (tensors[PREFIX + n].float() for n in TENSORS)
        return cls(classes, shift, scale, coef, intercept, weight=weight, temperature=temperature)
