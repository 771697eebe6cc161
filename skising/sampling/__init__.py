"""THE shared Ising engine: colouring, sampling, energies, mean field.

Every estimator in skising samples through :func:`sample_ising` (or its
private kernel) and scores samples with :func:`ising_energy`;
:class:`IsingModel` prepares one graph once for many sampling calls.
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
from ._sampler import sample_ising
from ._grid import grid_kernel, ising_energy_grid, mean_field_grid, sample_ising_grid

__all__ = [
    "IsingModel",
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
