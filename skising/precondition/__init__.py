"""Learned sparse approximate inverse preconditioners (paper Section 4.4)."""

from ._estimator import SAIPreconditioner
from ._field import ConstantField, EntryGCNII, PriorField
from ._fsai import FSAIOperator, fsai, fsai_factor
from ._greedy import greedy_spai, greedy_spai_dense, spai, swap_refine_dense
from ._lstsq import sai_lstsq, sai_lstsq_dense
from ._pattern import candidate_pattern, check_matrix, entry_graph

__all__ = [
    "SAIPreconditioner",
    "EntryGCNII",
    "ConstantField",
    "PriorField",
    "spai",
    "fsai",
    "fsai_factor",
    "FSAIOperator",
    "greedy_spai",
    "greedy_spai_dense",
    "swap_refine_dense",
    "sai_lstsq",
    "sai_lstsq_dense",
    "candidate_pattern",
    "check_matrix",
    "entry_graph",
]
