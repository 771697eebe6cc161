"""Every public class and function has a numpydoc docstring with an Examples section.

"Public" means: listed in ``__all__`` of ``skising`` or of one of its
subpackages (the same list the API reference is generated from, see
``doc/conf.py``). The examples themselves run as doctests
(``pytest --doctest-modules skising``).
"""

import importlib
import inspect

import pytest

SUBPACKAGES = [
    "skising",
    "skising.baselines",
    "skising.datasets",
    "skising.explain",
    "skising.fields",
    "skising.gradients",
    "skising.graph",
    "skising.metrics",
    "skising.precondition",
    "skising.mesh",
    "skising.distributed",
    "skising.estimator_checks",
    "skising.sampling",
    "skising.segment",
    "skising.sparsify",
    "skising.subsampling",
]


def _public_callables():
    seen = {}
    for mod_name in SUBPACKAGES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if callable(obj) and id(obj) not in seen:
                seen[id(obj)] = (f"{mod_name}.{name}", obj)
    return sorted(seen.values(), key=lambda t: t[0])


PUBLIC = _public_callables()


def test_public_api_is_not_empty():
    assert len(PUBLIC) > 50


@pytest.mark.parametrize("qualname, obj", PUBLIC, ids=[q for q, _ in PUBLIC])
def test_docstring_has_examples(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    assert "\nExamples\n--------\n" in doc, f"{qualname}: the docstring has no numpydoc 'Examples' section"
    assert ">>> " in doc.split("\nExamples\n--------\n", 1)[1], f"{qualname}: the Examples section has no '>>>' line"
