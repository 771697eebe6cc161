"""skising: task-specific graph subsampling with a learned Ising model.

Implements "Ising on the Graph: Task-specific Graph Subsampling via the
Ising Model" (Båkestad et al.). Estimators follow scikit-learn conventions;
all of them share one torch Ising sampler (:mod:`skising.sampling`).
"""

from .graph import Graph, as_graph, batch_graphs, grid_graph
from .sampling import color_graph, ising_energy, mean_field, sample_ising

__version__ = "0.1.0"

# the estimators pull in scikit-learn (about 1 s of import) and the applications heavier
# dependencies (PyG explain, e3nn, ...): imported on first access (PEP 562), so the
# engine (`import skising`, `skising.sampling`, `skising.graph`) stays light
_LAZY = {
    "IsingSubsampler": "subsampling",
    "RandomSubsampler": "baselines",
    "FarthestPointSubsampler": "baselines",
    "SpectralSubsampler": "baselines",
    "ConstantFieldIsingSubsampler": "baselines",
    "IsingGraphExplainer": "explain",
    "SAIPreconditioner": "precondition",
    "IsingSegmenter": "segment",
    "UNetSegmenter": "segment",
    "MeshSparsifier": "sparsify",
    "PointSamplerSubsampler": "sparsify",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'skising' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "IsingSubsampler",
    "IsingGraphExplainer",
    "MeshSparsifier",
    "PointSamplerSubsampler",
    "SAIPreconditioner",
    "IsingSegmenter",
    "UNetSegmenter",
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
