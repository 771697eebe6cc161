"""Checks that keep the documentation buildable and honest, without running Sphinx.

The site itself is built in CI (``.ci/run``) with warnings as errors; these tests
catch the common breakages early and cheaply.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "doc"

SUBPACKAGES = [
    "skising",
    "skising.sampling",
    "skising.graph",
    "skising.gradients",
    "skising.subsampling",
    "skising.baselines",
    "skising.fields",
    "skising.explain",
    "skising.sparsify",
    "skising.precondition",
    "skising.distributed",
    "skising.estimator_checks",
    "skising.segment",
    "skising.datasets",
    "skising.metrics",
]


def _public_objects():
    for mod_name in SUBPACKAGES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            yield mod_name, name, getattr(mod, name)


def test_every_public_name_exists_and_is_documented():
    missing = []
    for mod_name, name, obj in _public_objects():
        if not callable(obj):
            continue  # constants such as PSB_CATEGORIES
        doc = getattr(obj, "__doc__", None) or ""
        if len(doc.strip()) < 10:
            missing.append(f"{mod_name}.{name}")
    assert not missing, f"public names without a docstring: {missing}"


def test_api_sections_cover_every_subpackage():
    # doc/conf.py builds the API page from this list: a new subpackage must be added there
    conf = (DOC / "conf.py").read_text(encoding="utf-8")
    for mod_name in SUBPACKAGES[1:]:
        assert f'"{mod_name}"' in conf, f"doc/conf.py API_SECTIONS lacks {mod_name}"


def _code_blocks(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            yield m.group(1)
    else:
        for m in re.finditer(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, flags=re.M):
            lines = [ln[3:] for ln in m.group(1).splitlines()]
            yield "\n".join(lines)


_BUILT = {"_build", "generated", "_generated", "auto_examples"}  # written by the build, not sources
DOC_PAGES = sorted(p for p in DOC.rglob("*") if p.suffix in (".rst", ".md") and not _BUILT & set(p.parts))


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(DOC)))
def test_python_snippets_parse_and_import_existing_names(page):
    for code in _code_blocks(page):
        tree = ast.parse(code)  # a SyntaxError names the page in the test id
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skising"):
                mod = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(mod, alias.name), f"{page.name}: {node.module} has no {alias.name}"


EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_gallery_examples_have_a_title(path):
    # sphinx-gallery needs a module docstring that starts with a reST title
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc, f"{path.name}: no module docstring (sphinx-gallery needs one with a title)"
    lines = doc.strip("\n").splitlines()
    assert len(lines) >= 2 and set(lines[1].strip()) <= set("=-~^") and lines[1].strip(), (
        f"{path.name}: the docstring must start with a title line and an underline")
