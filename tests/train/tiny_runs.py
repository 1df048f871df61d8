"""Tiny but real training runs for the orchestration tests.

The text side is a 2-layer, 32-wide BERT (real transformers code, random weights, MiniLM's
tokenizer) saved with ``save_pretrained`` so experiments name it like any local model;
the EMG side is MyoSem from the shipped simulated-armband config, shrunk, trained one
epoch per stage on a few seconds of simulated signal.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

TINY_MODEL = """
[model_overrides]
d_model = 16
n_layers = 1
n_heads = 2
codebook_size = 8
n_queries = 2
descriptor_hidden = 8
dropout = 0.0

[stage2]
epochs = 1
batch_size = 64

[stage3]
epochs_a = 1
epochs_b = 1
batch_size = 64
"""


def save_tiny_bert(folder: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from myostream.text.encoder import default_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def simulated_experiment(
    path: Path,
    text_model: Path,
    protocol: str = '[protocol]\nname = "cross-user"\ntest_subjects = ["user2"]\n',
    seconds: float = 20.0,
    users: str = "[1, 2]",
) -> Path:
    """An experiment file: 2 simulated users x ``seconds`` s (the random schedule shows every
    gesture within 20 s: 4 cues of rest + gesture), tiny MyoSem, tiny BERT, stage 1 for 5 steps."""
    path.write_text(
        f"""
name = "tiny-simulated"
model = "myosem-simulated"

[data]
source = "simulated"
users = {users}
seconds = {seconds}
hop_ms = 100
filter = "simulated"
hold_s = 1.5
rest_s = 1.0

{protocol}

[text]
catalogs = ["armband"]
model = "{text_model}"
steps = 5
batch_classes = 4
train_layers = 1
{TINY_MODEL}
"""
    )
    return path


@functools.cache
def tiny_bert(root: Path) -> Path:
    """The tiny BERT folder, saved once per test session under ``root``."""
    return save_tiny_bert(root / "tiny-bert")


@functools.cache
def trained_checkpoint(root: Path) -> Path:
    """``myostream train`` on the tiny simulated experiment, once per test session."""
    from myostream.cli import main

    exp = simulated_experiment(root / "tiny-simulated.toml", tiny_bert(root))
    out = root / "tiny-checkpoint"
    assert main(["train", str(exp), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    return out
