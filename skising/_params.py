"""Parameter constraints shared by skising's estimators (scikit-learn's ``_parameter_constraints``)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from .sampling._engine import UPDATES as _UPDATES

__all__ = ["DEVICE", "FRACTION", "SEED", "Int", "deprecated_alias"]

class Int(Interval):
    """``Interval(Integral, ...)`` that refuses booleans (``n_samples=True`` is a mistake, not 1)."""

    def __init__(self, left, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


#: A fraction in the open interval (0, 1).
FRACTION = Interval(Real, 0, 1, closed="neither")
#: What ``random_state`` accepts (drawn from once by :func:`seed_from`).
SEED = [None, Int(0), np.random.RandomState, np.random.Generator]
#: What ``device`` accepts; :func:`~skising._validation.check_device` then checks that it exists here.
DEVICE = [None, str, torch.device]

_COMMON_CONSTRAINTS = {
    "field_model": [None, type, torch.nn.Module],
    "beta": [Interval(Real, 0, None, closed="left")],
    "coupling": [Interval(Real, None, None, closed="neither")],
    "target_fraction": [None, FRACTION],
    "penalty": [Interval(Real, 0, None, closed="left")],
    "n_samples": [Int(2)],
    "n_sweeps": [Int(1)],
    "update": [StrOptions(set(_UPDATES))],
    "max_epochs": [Int(0)],
    "epochs": [Int(0), Hidden(StrOptions({"deprecated"}))],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Int(1)],
    "device": DEVICE,
    "random_state": SEED,
    "verbose": ["verbose"],
}


def deprecated_alias(est, new, old, value_new):
    """The value of parameter ``new``, or of its deprecated former name ``old`` when that was set.

    ``old`` holds the string ``"deprecated"`` unless the user set it; then a
    ``FutureWarning`` names both and its value wins.
    """
    v = getattr(est, old, "deprecated")
    if isinstance(v, str) and v == "deprecated":
        return value_new
    warnings.warn(f"{type(est).__name__}: `{old}` was renamed `{new}` (one name across skising's estimators) "
                  f"and will be removed; pass {new}={v!r}", FutureWarning, stacklevel=4)
    return v
