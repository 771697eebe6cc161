"""skising: task-specific graph subsampling with a learned Ising model.

Implements "Ising on the Graph: Task-specific Graph Subsampling via the
Ising Model" (Båkestad et al.). Estimators follow scikit-learn conventions;
all of them share one torch Ising sampler (:mod:`skising.sampling`).
"""

from .baselines import (
    ConstantFieldIsingSubsampler,
    FarthestPointSubsampler,
    RandomSubsampler,
    SpectralSubsampler,
)
from .graph import Graph, as_graph, batch_graphs, grid_graph
from .sampling import color_graph, ising_energy, mean_field, sample_ising
from .subsampling import IsingSubsampler

__version__ = "0.1.0"

__all__ = [
    "IsingSubsampler",
    "RandomSubsampler",
    "FarthestPointSubsampler",
    "SpectralSubsampler",
    "ConstantFieldIsingSubsampler",
    "Graph",
    "as_graph",
    "batch_graphs",
    "grid_graph",
    "color_graph",
    "sample_ising",
    "ising_energy",
    "mean_field",
]
