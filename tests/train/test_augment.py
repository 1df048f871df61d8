"""Augmentation: how a ring band can sit, applied per batch."""

from __future__ import annotations

import pytest
import torch

from myostream.errors import MyostreamError
from myostream.train.augment import Augmentation, augment, augmented, ring_transform


def test_whole_turns_are_channel_rolls_and_fractions_interpolate_neighbours():
    x = torch.arange(8.0).repeat(3, 5, 1)  # channel c holds value c
    no = torch.zeros(3, dtype=torch.bool)
    rolled = ring_transform(x, torch.tensor([1.0, -2.0, 0.0]), no)
    assert rolled[0, 0].tolist() == [7, 0, 1, 2, 3, 4, 5, 6]  # channel c reads what electrode c - 1 recorded
    assert rolled[1, 0].tolist() == [2, 3, 4, 5, 6, 7, 0, 1]
    assert torch.equal(rolled[2], x[2])
    half = ring_transform(x[:1], torch.tensor([0.5]), no[:1])
    assert half[0, 0].tolist() == pytest.approx([3.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
    flipped = ring_transform(x[:1], torch.tensor([0.0]), torch.tensor([True]))
    assert flipped[0, 0].tolist() == [0, 7, 6, 5, 4, 3, 2, 1]  # the band put on the other way round


def test_augmentation_changes_only_what_it_is_asked_to():
    torch.manual_seed(0)
    x = torch.randn(64, 10, 8)
    assert torch.equal(augment(x, Augmentation(rotation=2.0, mirror=True), ring=False), x)  # not a ring: no turning
    turned = augment(x, Augmentation(rotation=0.5), ring=True)
    assert not torch.equal(turned, x) and turned.shape == x.shape
    # each window is turned as a whole: every output channel mixes at most two neighbouring inputs
    for b in range(4):
        weights = torch.linalg.lstsq(x[b], turned[b]).solution  # [8 in, 8 out]
        assert ((weights.abs() > 1e-4).sum(dim=0) <= 2).all()
    gained = augment(x, Augmentation(gain=0.2), ring=False)
    ratio = gained / x
    assert torch.allclose(ratio, ratio[:, :1, :].expand_as(ratio), atol=1e-5)  # one gain per window and channel
    noisy = augment(x, Augmentation(noise=0.1), ring=False)
    assert 0.05 < float((noisy - x).std() / x.std()) < 0.15


def test_augmented_loss_sees_perturbed_batches():
    seen = []

    def loss(net, x, y):
        seen.append(x)
        return {"loss": x.sum()}

    x = torch.ones(4, 10, 8)
    augmented(loss, Augmentation(gain=0.3), ring=True)(None, x, None)
    assert not torch.equal(seen[0], x)
    assert augmented(loss, Augmentation(), ring=True) is loss  # nothing to do: the loss as it was


def test_settings_are_checked():
    assert Augmentation.from_dict({"rotation": 0.5, "mirror": True}) == Augmentation(rotation=0.5, mirror=True)
    with pytest.raises(MyostreamError, match="has unknown key 'spin'; allowed keys are gain, mirror, noise, rotation"):
        Augmentation.from_dict({"spin": 1})
    with pytest.raises(MyostreamError, match="rotation must be a number, got 'half'"):
        Augmentation.from_dict({"rotation": "half"})
    with pytest.raises(MyostreamError, match="mirror must be true or false"):
        Augmentation.from_dict({"mirror": 1})
    with pytest.raises(MyostreamError, match="must be 0 or more"):
        Augmentation(gain=-1.0)
