"""Slow, obviously-correct reference implementations, used only by tests.

* :func:`metropolis_reference` -- Algorithm 1 of the paper written literally:
  one spin at a time in Python, colour by colour. ``paper_acceptance=True``
  uses the acceptance exactly as printed, ``exp(-2 beta dE) > r``, which
  samples at inverse temperature ``2 beta``; the default accepts with
  ``min(1, exp(-beta dE))`` and targets eq. 1.
* :func:`enumerate_states`, :func:`exact_distribution` -- all ``2**n`` states
  of a small graph and their exact Boltzmann probabilities.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["metropolis_reference", "enumerate_states", "exact_distribution", "energy_reference"]


def energy_reference(edges, weights, h, x):
    """E(x) = -sum_{edges once} J_ij x_i x_j - sum_i h_i x_i, by plain loops."""
    e = 0.0
    for (i, j), w in zip(edges, weights):
        e -= w * x[i] * x[j]
    for i in range(len(x)):
        e -= h[i] * x[i]
    return e


def metropolis_reference(n, edges, weights, h, colors, beta, n_sweeps, x0, rng, paper_acceptance=False):
    """Literal Algorithm 1: per colour, per node, Metropolis on one spin."""
    nbrs = [[] for _ in range(n)]
    for (i, j), w in zip(edges, weights):
        nbrs[i].append((j, w))
        nbrs[j].append((i, w))
    x = list(x0)
    for _ in range(n_sweeps):
        for c in sorted(set(colors)):
            members = [i for i in range(n) if colors[i] == c]
            # all members of a colour see the state before this colour's update
            old = list(x)
            for i in members:
                s = sum(w * old[j] for j, w in nbrs[i])
                dE = 2.0 * old[i] * (s + h[i])
                r = rng.random()
                ratio = math.exp(-2.0 * beta * dE) if paper_acceptance else math.exp(-beta * dE)
                if ratio > r:
                    x[i] = -old[i]
    return x


def enumerate_states(n):
    """All 2**n spin vectors, shape (2**n, n), in {-1, +1}."""
    if n > 20:
        raise ValueError(f"n: exact enumeration is limited to 20 nodes, got {n}")
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def exact_distribution(n, edges, weights, h, beta):
    """States and their exact probabilities exp(-beta E) / Z (float64)."""
    X = enumerate_states(n)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.asarray(weights, dtype=np.float64)
    E = -(X[:, edges[:, 0]] * X[:, edges[:, 1]] * w).sum(1) - X @ np.asarray(h, dtype=np.float64)
    logp = -beta * E
    logp -= logp.max()
    p = np.exp(logp)
    return X, p / p.sum()
