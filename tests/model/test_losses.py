import math

import numpy as np
import pytest
import torch

from model.losses import InfoNCELoss, in_batch_accuracy


def unit(rows):
    t = torch.tensor(rows, dtype=torch.float64)
    return t / t.norm(dim=1, keepdim=True)


Q = unit([[1.0, 0.0], [0.6, 0.8]])
P = unit([[0.8, 0.6], [0.0, 1.0]])


def by_hand(q, p, scale):
    """-mean_i log softmax(scale * q_i . p)_i, written out."""
    q, p = q.numpy(), p.numpy()
    total = 0.0
    for i in range(len(q)):
        logits = [scale * float(q[i] @ p[j]) for j in range(len(p))]
        total += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    return total / len(q)


def test_infonce_matches_hand_computation():
    # cosines: q0.p0=0.8, q0.p1=0, q1.p0=0.96, q1.p1=0.8; scale 2:
    # row0: -log(e^1.6/(e^1.6+e^0)), row1: -log(e^1.6/(e^1.92+e^1.6))
    expected = (-math.log(math.exp(1.6) / (math.exp(1.6) + 1))
                - math.log(math.exp(1.6) / (math.exp(1.92) + math.exp(1.6)))) / 2
    loss = InfoNCELoss(scale=2.0)(Q, P)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    assert loss.item() == pytest.approx(by_hand(Q, P, 2.0), abs=1e-12)


def test_symmetric_adds_passage_to_query_direction():
    sym = InfoNCELoss(scale=2.0, symmetric=True)(Q, P).item()
    assert sym == pytest.approx((by_hand(Q, P, 2.0) + by_hand(P, Q, 2.0)) / 2, abs=1e-12)


def test_hard_negatives_join_every_row_candidates():
    hard = unit([[1.0, 0.1], [0.5, 0.9]])
    loss = InfoNCELoss(scale=3.0)(Q, P, hard).item()
    q, cand = Q.numpy(), torch.cat([P, hard]).numpy()
    expected = np.mean([-(3 * q[i] @ cand[i] - np.log(np.exp(3 * q[i] @ cand.T).sum())) for i in range(2)])
    assert loss == pytest.approx(expected, abs=1e-12)
    assert loss > InfoNCELoss(scale=3.0)(Q, P).item()


def test_row_slices_average_to_the_full_loss():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1)
    p = torch.nn.functional.normalize(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1)
    loss = InfoNCELoss(scale=20.0, symmetric=True)
    halves = (loss(q, p, rows=slice(0, 3)) + loss(q, p, rows=slice(3, 6))) / 2
    assert halves.item() == pytest.approx(loss(q, p).item(), abs=1e-12)


def test_default_temperature_is_e5s():
    assert InfoNCELoss().scale == 100.0


def test_in_batch_accuracy():
    assert in_batch_accuracy(Q, P) == 0.5  # q1 prefers p0 (0.96 > 0.8)
    assert in_batch_accuracy(Q, P, rows=slice(0, 1)) == 1.0
