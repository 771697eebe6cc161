"""Explanations of GNN graph classifiers with a learned Ising model (paper Sec. 4.2)."""

from ._classifier import get_cache_dir, predict_proba, train_classifier
from ._explainer import IsingGraphExplainer
from ._subgraph import induced_subgraph_proba

__all__ = ["IsingGraphExplainer", "induced_subgraph_proba", "train_classifier", "predict_proba", "get_cache_dir"]

from ._pyg import IsingExplainerAlgorithm

__all__ += ["IsingExplainerAlgorithm"]
