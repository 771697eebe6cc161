"""THE shared Ising engine: colouring, sampling, energies, mean field.

One sampler (:mod:`skising.sampling._engine`) for every representation of
the couplings: :class:`GraphCouplings` (an explicit graph, CSR),
:class:`GridCouplings` (pixel grids, ``conv2d``), :class:`RookCouplings`
(entries coupled within rows and columns, from row/column sums) and
:class:`IndependentSpins` (no couplings). Each has the same entry points,
``.sample(field, n_chains, n_sweeps, beta, update, init, random_state)``,
``.energy(x, field)``, ``.local_field(x)`` and ``.mean_field(field, beta)``,
and the same update rules and counter-based random numbers, so a seed gives
the same samples on every device. :func:`sample_ising` and
:class:`IsingModel` sample a graph, :func:`sample_ising_grid` a grid.
"""

from ._coloring import color_graph, greedy_color, is_valid_coloring
from ._energy import (
    ising_energy,
    local_field,
    magnetization_det,
    magnetization_sto,
    mean_field,
)
from ._model import IsingModel
from ._engine import Couplings, IndependentSpins
from ._sampler import GraphCouplings, sample_ising
from ._grid import GridCouplings, grid_kernel, ising_energy_grid, mean_field_grid, sample_ising_grid
from ._rook import RookCouplings, entry_coloring, rook_coloring, rook_num_edges

__all__ = [
    "IsingModel",
    "Couplings",
    "GraphCouplings",
    "GridCouplings",
    "RookCouplings",
    "IndependentSpins",
    "entry_coloring",
    "rook_coloring",
    "rook_num_edges",
    "color_graph",
    "greedy_color",
    "is_valid_coloring",
    "sample_ising",
    "ising_energy",
    "local_field",
    "mean_field",
    "magnetization_det",
    "magnetization_sto",
    "sample_ising_grid",
    "ising_energy_grid",
    "mean_field_grid",
    "grid_kernel",
]
