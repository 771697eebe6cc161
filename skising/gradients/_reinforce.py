r"""REINFORCE leave-one-out (RLOO) gradients for Ising-sampled subsets.

Losses are plain callables
``loss(x, context) -> tensor of shape (n_samples,) or (n_samples, n_graphs)``
where ``x`` is a ``(n_samples, n_nodes)`` tensor of spins in {-1, +1}
(+1 = node kept) and ``context`` is whatever the estimator passes (for
:class:`~skising.IsingSubsampler`, the batched :class:`~skising.graph.Graph`).
The loss is detached: it never needs to be differentiable.

For :math:`p_\theta(x) \propto e^{-\beta E_\theta(x)}`,
:math:`\nabla_\theta \log p_\theta(x) = -\beta \nabla_\theta E_\theta(x) + \beta\,
\mathbb{E}_p[\nabla_\theta E_\theta]`. With ``K`` samples and the
leave-one-out mean :math:`b_k = \frac{1}{K-1}\sum_{j \ne k} l_j` as baseline
the partition-function term cancels (the advantages sum to zero), leaving

.. math:: \hat g = -\frac{\beta}{K} \sum_k (l_k - b_k) \nabla_\theta E_\theta(x_k),

which for ``K = 2`` is eq. 15, :math:`-\frac{\beta}{2}(l_1 - l_2)\nabla(E_1 - E_2)`.
The estimator is unbiased for :math:`\nabla_\theta \mathbb{E}_p[l(x)]` when
the samples are exact and independent.
"""

from __future__ import annotations

import torch

from ..sampling._energy import magnetization_det

__all__ = ["rloo_surrogate", "magnetization_penalty", "target_magnetization"]


def rloo_surrogate(losses, energies, beta=1.0):
    """Surrogate whose autograd gradient is the RLOO estimate.

    Parameters
    ----------
    losses : tensor of shape (K,) or (K, G)
        Task losses of K samples (per graph of a batch when 2-D). Detached.
    energies : tensor of shape (K,) or (K, G)
        Differentiable energies :math:`E_\\theta(x_k)` of the same samples
        (per graph). With 1-D losses and 2-D energies, energies are summed
        over graphs (the batch's joint distribution factorises).
    beta : float
        Inverse temperature of the sampled model.

    Returns
    -------
    torch.Tensor (scalar)
        Its value is meaningless; its gradient is the estimate (averaged over
        graphs for per-graph losses).

    Examples
    --------
    >>> import torch
    >>> from skising.gradients import rloo_surrogate
    >>> h = torch.zeros(2, requires_grad=True)
    >>> x = torch.tensor([[1., 1.], [-1., -1.]])
    >>> E = -(x * h).sum(1)
    >>> rloo_surrogate(torch.tensor([0., 1.]), E).backward()
    >>> h.grad.tolist()   # -(1/2)(0 - 1) * d(E1 - E2)/dh = 0.5 * (-2, -2)
    [-1.0, -1.0]
    """
    losses = torch.as_tensor(losses).detach()
    if losses.dim() not in (1, 2):
        raise ValueError(f"losses: expected shape (n_samples,) or (n_samples, n_graphs), got {tuple(losses.shape)}")
    K = losses.shape[0]
    if K < 2:
        raise ValueError(f"losses: RLOO needs at least 2 samples, got {K}")
    if not torch.isfinite(losses).all():
        raise ValueError("losses: the task loss returned NaN or infinite values")
    if losses.dim() == 1 and energies.dim() == 2:
        energies = energies.sum(1)
    if losses.dim() == 2 and energies.dim() == 1:
        raise ValueError("losses: per-graph losses (K, G) need per-graph energies (K, G)")
    if losses.shape != energies.shape:
        raise ValueError(f"losses: shape {tuple(losses.shape)} does not match energies {tuple(energies.shape)}")
    losses = losses.to(energies.dtype).to(energies.device)
    baseline = (losses.sum(0, keepdim=True) - losses) / (K - 1)
    adv = losses - baseline
    g = -(beta / K) * (adv * energies).sum(0)
    return g.mean() if g.dim() else g


def target_magnetization(target_fraction):
    """eta = 2 * fraction - 1: the magnetisation that keeps ``fraction`` of the nodes.

    Parameters
    ----------
    target_fraction : float in [0, 1]

    Returns
    -------
    float in [-1, 1]

    Examples
    --------
    >>> from skising.gradients import target_magnetization
    >>> target_magnetization(0.25)
    -0.5
    """
    return 2.0 * float(target_fraction) - 1.0


def magnetization_penalty(field, beta, target_fraction, batch=None):
    r"""Eq. 16's penalty :math:`(\eta_{det} - \eta)^2`, averaged over graphs.

    ``eta_det = mean_i tanh(beta h_i)`` (eq. 12), ``eta = 2 fraction - 1``.

    Parameters
    ----------
    field : torch.Tensor of shape (n,)
        External field ``h`` (with grad: the penalty is differentiable).
    beta : float
        Inverse temperature.
    target_fraction : float in [0, 1]
        Fraction of nodes to keep.
    batch : LongTensor of shape (n,), optional
        Graph index of every node; the penalty is computed per graph and
        averaged.

    Returns
    -------
    torch.Tensor (scalar)

    Examples
    --------
    >>> import torch
    >>> from skising.gradients import magnetization_penalty
    >>> float(magnetization_penalty(torch.zeros(4), beta=1.0, target_fraction=0.75))
    0.25
    """
    eta = target_magnetization(target_fraction)
    m = magnetization_det(field, beta, batch)
    return ((m - eta) ** 2).mean()
