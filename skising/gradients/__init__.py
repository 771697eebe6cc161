"""RLOO gradient estimator (eq. 15, any K >= 2) and magnetisation penalty (eq. 16).

Loss signature, used everywhere in skising::

    loss(x, context) -> torch.Tensor of shape (n_samples,) or (n_samples, n_graphs)

``x``: spins in {-1, +1}, shape (n_samples, n_nodes), +1 = node kept.
The loss is treated as a black box (detached): it need not be differentiable.
"""

from ._reinforce import magnetization_penalty, rloo_surrogate, target_magnetization

__all__ = ["rloo_surrogate", "magnetization_penalty", "target_magnetization"]
