"""Text-side fixtures: the real MiniLM encoder (loaded once) and a tiny BERT for fast training tests."""

from __future__ import annotations

import copy

import pytest
import torch


@pytest.fixture(scope="session")
def minilm_base():
    from myostream.text.encoder import TextEncoder

    return TextEncoder.from_pretrained()


@pytest.fixture
def minilm(minilm_base):
    """A private copy of the real all-MiniLM-L6-v2 encoder (tests may train it)."""
    return copy.deepcopy(minilm_base)


@pytest.fixture
def tiny_encoder():
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer: real transformers code, random weights."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from myostream.text.encoder import TextEncoder, default_model_path

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return TextEncoder(BertModel(config).eval(), tokenizer, dim=16)
