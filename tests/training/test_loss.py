"""InfoNCE against a hand computation."""

from __future__ import annotations

import math

import torch

from training.loss import info_nce, pairwise_margin


def ce(logits: list[float], label: int, smoothing: float = 0.0) -> float:
    """Cross-entropy of one row by hand: (1 - eps) * NLL(label) + eps * mean NLL over classes."""
    log_z = math.log(sum(math.exp(v) for v in logits))
    nll = [log_z - v for v in logits]
    return (1 - smoothing) * nll[label] + smoothing * sum(nll) / len(nll)


def test_info_nce_by_hand() -> None:
    scores = [[2.0, 0.0, -1.0], [1.0, 3.0, 0.5], [0.0, 2.5, 1.0]]
    for eps in (0.0, 0.1):
        rows = sum(ce(scores[i], i, eps) for i in range(3)) / 3
        cols = sum(ce([scores[j][i] for j in range(3)], i, eps) for i in range(3)) / 3
        got = info_nce(torch.tensor(scores), label_smoothing=eps)
        assert math.isclose(got.item(), (rows + cols) / 2, rel_tol=1e-6)


def test_info_nce_is_symmetric_and_prefers_a_strong_diagonal() -> None:
    scores = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    assert torch.isclose(info_nce(scores), info_nce(scores.T))
    assert info_nce(scores + 10 * torch.eye(5)) < info_nce(scores)


def test_pairwise_margin_by_hand_and_its_gradient_sides() -> None:
    true = torch.tensor([2.0, 0.0], requires_grad=True)
    negative = torch.tensor([1.0, 3.0], requires_grad=True)
    loss = pairwise_margin(true, negative)
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(3.0))) / 2
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    loss.backward()
    assert torch.all(true.grad < 0) and torch.all(negative.grad > 0)  # raise the true, lower the negative
    assert pairwise_margin(torch.zeros(0), torch.zeros(0)).item() == 0.0
