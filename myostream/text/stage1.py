"""Stage 1 of MyoSem: align the text views of every class and build class prototypes.

Loss (multi-positive InfoNCE between views of the same class, temperature ``tau``)::

    L = L(T1,T2) + lambda_02 L(T0,T2) + lambda_23 L(T2,T3) + lambda_13 L(T1,T3)

Prototype of class c: ``P_c = norm(mean over views v of norm(mean of c's texts in v)))``;
each view weighs the same, so the several T3 paraphrases count as one view.

By default only the projection and the backbone's last transformer layer train
(``train_layers = 1``): the frozen layers below are run once per text and cached, so
a step costs one layer and the whole stage runs on a CPU in minutes.
``train_layers = 0`` trains the projection alone on cached pooled features (seconds).
Held-out classes (cross-class protocols) are left out of training entirely and only
encoded afterwards, as inference candidates.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from myostream.errors import MyostreamError
from myostream.model.losses import multi_positive_info_nce
from myostream.text.catalog import VIEWS, Catalog
from myostream.text.encoder import TextEncoder, mean_pool

PROTOTYPES_FILE = "prototypes.safetensors"
CLASSES_FILE = "prototypes.json"
_TAIL_CHUNK = 32  # texts per tail-layer pass; length-sorted chunks keep padding small


@dataclass
class Stage1Config:
    """Stage-1 hyper-parameters (the defaults run on a CPU in a few minutes)."""

    steps: int = 150
    batch_classes: int = 24  # classes per step (all of them when the catalog is smaller)
    paraphrases_per_class: int = 2  # T3 texts per class and step: the multi-positive view
    tau: float = 0.05
    lambda_02: float = 0.5
    lambda_23: float = 1.0
    lambda_13: float = 0.5
    train_layers: int = 1  # last transformer layers that train; 0 = projection only
    lr_projection: float = 1e-3
    lr_layers: float = 3e-5
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_classes < 2 or self.paraphrases_per_class < 1:
            raise MyostreamError("Stage-1 config needs steps >= 0, batch_classes >= 2 and paraphrases_per_class >= 1.")
        if self.tau <= 0:
            raise MyostreamError(f"Stage-1 temperature tau must be positive, got {self.tau}.")
        if self.train_layers < 0:
            raise MyostreamError(f"train_layers must be 0 or more, got {self.train_layers}.")


@dataclass
class Stage1Result:
    encoder: TextEncoder
    prototypes: torch.Tensor  # float32[C, d], rows L2-normalised
    class_ids: tuple[str, ...]
    held_out: tuple[str, ...]
    losses: list[float] = field(default_factory=list)
    config: Stage1Config = field(default_factory=Stage1Config)


def multi_positive_infonce(
    a: torch.Tensor, b: torch.Tensor, a_labels: torch.Tensor, b_labels: torch.Tensor, tau: float
) -> torch.Tensor:
    """Symmetric InfoNCE where every same-label pair across ``a`` and ``b`` is a positive.

    The text side's view of :func:`myostream.model.losses.multi_positive_info_nce`: views
    carry class labels, and all views of one class are positives of each other.
    """
    return multi_positive_info_nce(a, b, a_labels[:, None] == b_labels[None, :], tau, symmetric=True)


def build_prototypes(encoder: TextEncoder, catalog: Catalog) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Class prototypes P (float32[C, d], L2-normalised) and their class ids, in catalog order."""
    texts, owner = [], []
    for c, action in enumerate(catalog):
        for v, view in enumerate(VIEWS):
            for text in action.views()[view]:
                texts.append(text)
                owner.append((c, v))
    z = encoder.encode(texts)
    sums = torch.zeros(len(catalog), len(VIEWS), z.shape[1])
    counts = torch.zeros(len(catalog), len(VIEWS), 1)
    for row, (c, v) in enumerate(owner):
        sums[c, v] += z[row]
        counts[c, v] += 1
    views = nn.functional.normalize(sums / counts, dim=-1)
    return nn.functional.normalize(views.mean(1), dim=-1), catalog.ids


def train_stage1(
    catalog: Catalog,
    encoder: TextEncoder | None = None,
    config: Stage1Config | None = None,
    held_out: Iterable[str] = (),
    progress: bool = True,
) -> Stage1Result:
    """Train the text space on ``catalog`` minus ``held_out`` classes; prototypes cover all classes."""
    config = config or Stage1Config()
    held_out = tuple(held_out)
    unknown = [c for c in held_out if c not in catalog]
    if unknown:
        raise MyostreamError(f"Held-out class(es) {', '.join(unknown)} are not in catalog {catalog.name}.")
    train = catalog.subset([c for c in catalog.ids if c not in held_out])
    if len(train) < 2:
        raise MyostreamError(f"Stage 1 needs at least 2 training classes, catalog {catalog.name} leaves {len(train)}.")
    torch.manual_seed(config.seed)
    encoder = encoder or TextEncoder.from_pretrained(seed=config.seed)
    losses = _optimise(encoder, train, config, progress) if config.steps else []
    prototypes, class_ids = build_prototypes(encoder, catalog)
    return Stage1Result(encoder, prototypes, class_ids, held_out, losses, config)


def export_prototypes(
    folder: str | Path, prototypes: torch.Tensor, class_ids: Sequence[str], meta: dict | None = None
) -> Path:
    """Write ``prototypes.safetensors`` (key "prototypes") and ``prototypes.json`` (class list + meta)."""
    from safetensors.torch import save_file

    if prototypes.shape[0] != len(class_ids):
        raise MyostreamError(f"{prototypes.shape[0]} prototypes but {len(class_ids)} class ids.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"prototypes": prototypes.detach().float().cpu().contiguous()}, str(folder / PROTOTYPES_FILE))
    info = {"class_ids": list(class_ids), "dim": int(prototypes.shape[1]), **(meta or {})}
    (folder / CLASSES_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return folder


def load_prototypes(folder: str | Path) -> tuple[torch.Tensor, tuple[str, ...], dict]:
    """Read what :func:`export_prototypes` wrote: (P, class ids, meta)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / PROTOTYPES_FILE).is_file() or not (folder / CLASSES_FILE).is_file():
        raise MyostreamError(
            f"{folder} holds no class prototypes ({PROTOTYPES_FILE} + {CLASSES_FILE}); run stage 1 first."
        )
    info = json.loads((folder / CLASSES_FILE).read_text())
    prototypes = load_file(str(folder / PROTOTYPES_FILE))["prototypes"]
    class_ids = tuple(info.pop("class_ids"))
    if prototypes.shape[0] != len(class_ids):
        raise MyostreamError(
            f"{folder}: {prototypes.shape[0]} prototypes but {len(class_ids)} class ids; re-export them."
        )
    return prototypes, class_ids, info


def save_stage1(result: Stage1Result, folder: str | Path, meta: dict | None = None) -> Path:
    """Export the trained text encoder and the prototypes with their class list."""
    folder = Path(folder)
    result.encoder.save(folder)
    meta = {"held_out": list(result.held_out), "stage1": asdict(result.config), **(meta or {})}
    return export_prototypes(folder, result.prototypes, result.class_ids, meta)


# ----------------------------------------------------------------------------- training


def _optimise(encoder: TextEncoder, catalog: Catalog, config: Stage1Config, progress: bool) -> list[float]:
    from tqdm.auto import tqdm

    params = encoder.set_trainable(config.train_layers)
    layer_params = [p for p in params if p is not encoder.projection.weight]
    groups = [{"params": [encoder.projection.weight], "lr": config.lr_projection}]
    if layer_params:
        groups.append({"params": layer_params, "lr": config.lr_layers})
    optimiser = torch.optim.AdamW(groups, weight_decay=config.weight_decay)

    texts, index = _text_table(catalog)
    rng = random.Random(config.seed)
    losses: list[float] = []
    with _features(encoder, texts, config.train_layers) as embed:
        encoder.train()
        bar = tqdm(range(config.steps), desc="stage 1 (text)", unit="step", disable=not progress, leave=False)
        for _ in bar:
            batch = rng.sample(range(len(catalog)), min(config.batch_classes, len(catalog)))
            rows, view_of, label_of = [], [], []
            for label, c in enumerate(batch):
                for name in ("T0", "T1", "T2"):
                    rows.append(index[c][name][0])
                    view_of.append(name)
                    label_of.append(label)
                paraphrases = index[c]["T3"]
                for row in rng.sample(paraphrases, min(config.paraphrases_per_class, len(paraphrases))):
                    rows.append(row)
                    view_of.append("T3")
                    label_of.append(label)
            z = embed(rows)
            labels = torch.tensor(label_of, device=z.device)

            t0, t1, t2, t3 = (_view(z, labels, view_of, v) for v in VIEWS)
            loss = (
                multi_positive_infonce(t1[0], t2[0], t1[1], t2[1], config.tau)
                + config.lambda_02 * multi_positive_infonce(t0[0], t2[0], t0[1], t2[1], config.tau)
                + config.lambda_23 * multi_positive_infonce(t2[0], t3[0], t2[1], t3[1], config.tau)
                + config.lambda_13 * multi_positive_infonce(t1[0], t3[0], t1[1], t3[1], config.tau)
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    encoder.eval()
    return losses


def _text_table(catalog: Catalog) -> tuple[list[str], list[dict[str, list[int]]]]:
    """All training texts once, and per class the rows of each view."""
    texts: list[str] = []
    index = []
    for action in catalog:
        rows = {}
        for view, view_texts in action.views().items():
            rows[view] = list(range(len(texts), len(texts) + len(view_texts)))
            texts.extend(view_texts)
        index.append(rows)
    return texts, index


class _Passthrough(nn.Module):
    """Stands in for the embedding layer so cached hidden states enter the tail layers."""

    def forward(self, input_ids=None, inputs_embeds=None, **kwargs):
        return inputs_embeds


def _view(z: torch.Tensor, labels: torch.Tensor, view_of: list[str], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The embeddings and class labels of one view's rows."""
    mask = torch.tensor([v == name for v in view_of], device=z.device)
    return z[mask], labels[mask]


@contextlib.contextmanager
def _layers(encoder: TextEncoder, start: int, stop: int | None, passthrough: bool) -> Iterator[None]:
    # Run only layers[start:stop] through the backbone's own forward, which keeps building
    # the attention mask in whatever format this transformers version expects.
    backbone, layers = encoder.backbone, encoder.layer_stack()
    stack, embeddings = backbone.get_submodule("encoder"), backbone.get_submodule("embeddings")
    stack.layer = nn.ModuleList(list(layers)[start:stop])
    if passthrough:
        backbone.embeddings = _Passthrough()
    try:
        yield
    finally:
        stack.layer = layers
        backbone.embeddings = embeddings


@contextlib.contextmanager
def _features(encoder: TextEncoder, texts: list[str], train_layers: int) -> Iterator:
    """A function rows -> embeddings (with gradients) of ``texts[rows]``, frozen work cached."""
    size = encoder.batch_size
    if train_layers == 0:
        with torch.no_grad():
            encoder.eval()
            pooled = torch.cat(
                [encoder.pooled(encoder.tokenize(texts[i : i + size])) for i in range(0, len(texts), size)]
            )
        yield lambda rows: encoder.project(pooled[rows])
        return

    n_layers = len(encoder.layer_stack())
    first = n_layers - train_layers
    states: list[torch.Tensor] = []
    with torch.no_grad(), _layers(encoder, 0, first, passthrough=False):
        encoder.eval()
        for i in range(0, len(texts), size):
            batch = encoder.tokenize(texts[i : i + size])
            hidden = encoder.backbone(**batch).last_hidden_state
            lengths = batch["attention_mask"].sum(1).tolist()
            states.extend(h[:n].clone() for h, n in zip(hidden, lengths))

    def embed(rows: Sequence[int]) -> torch.Tensor:
        # Short labels and long descriptions share a step: group by length so padding stays small.
        order = sorted(range(len(rows)), key=lambda k: len(states[rows[k]]))
        parts = []
        for i in range(0, len(order), _TAIL_CHUNK):
            chosen = [states[rows[k]] for k in order[i : i + _TAIL_CHUNK]]
            hidden = nn.utils.rnn.pad_sequence(chosen, batch_first=True)
            mask = torch.zeros(hidden.shape[:2], dtype=torch.long, device=hidden.device)
            for k, h in enumerate(chosen):
                mask[k, : len(h)] = 1
            out = encoder.backbone(inputs_embeds=hidden, attention_mask=mask).last_hidden_state
            parts.append(mean_pool(out, mask))
        pooled = torch.cat(parts)[torch.argsort(torch.tensor(order, device=parts[0].device))]
        return encoder.project(pooled)

    with _layers(encoder, first, None, passthrough=True):
        yield embed
