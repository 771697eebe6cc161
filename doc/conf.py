"""Sphinx configuration for the skising documentation.

Quick build (no example execution, what CI runs)::

    make -C doc html SPHINXOPTS="-W --keep-going -D plot_gallery=0"

Full build (executes ``examples/plot_*.py``; needs ``../shared/data``)::

    make -C doc html
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # _sg_hooks
os.environ.setdefault("MPLBACKEND", "Agg")

import skising  # noqa: E402

project = "skising"
author = "skising developers"
copyright = "2026, skising developers"
release = skising.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# The helpers' notes (doc/<area>.md) and generated fragments are *included*
# into the application pages rather than built as pages of their own.
# Every top-level doc/*.md except this site's own pages is such a note (a new
# one is picked up automatically: see _write_note_fragments).
OWN_MD_PAGES = {"performance.md", "defaults.md"}
exclude_patterns = [
    "_build",
    *sorted(p.name for p in HERE.glob("*.md") if p.name not in OWN_MD_PAGES),
    "_generated/*.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
# Methods without their own docstring (e.g. ``forward`` overriding PyG's
# Google-style one) are not documented instead of inheriting foreign markup.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# autosummary's one-line summaries end at the first ". ": keep "eq. 1",
# "Sec. 4", "Alg. 1", "e.g. x", "et al. (2016)" whole.
import re as _re  # noqa: E402

import sphinx.ext.autosummary as _autosummary  # noqa: E402

_autosummary.periods_re = _re.compile(
    r"(?<![Ee]q)(?<![Ee]qs)(?<!Sec)(?<!Alg)(?<!Fig)(?<!e\.g)(?<!i\.e)(?<!\bal)(?<!vs)\.(?:\s+)"
)

# -- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing"]

# -- intersphinx (only used when online; the build never needs it) -----------
intersphinx_mapping = {}

# -- sphinx-gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # scripts that are not plot_*.py (e.g. distributed_fit.py, which needs torchrun) are not gallery pages
    "ignore_pattern": r"(^|[/\\])(?!plot_)[^/\\]+\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_argv": "_sg_hooks.reset_argv",  # no CLI arguments, and __file__ defined
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": False,
    "only_warn_on_example_error": True,
}

def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing setters (set_fit_request, ...) are generated
    # on every estimator class; their docstrings point into sklearn's own docs.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _fix_gallery_titles(app, docname, source):
    # An example's title underline one character too short would fail the
    # warnings-as-errors build; lengthen it in the generated page only.
    if not docname.startswith("auto_examples/"):
        return
    import re

    def fix(m):
        return m.group(1) + "\n" + m.group(3) * max(len(m.group(1)), len(m.group(2)))

    source[0] = re.sub(r"^([^\n=\-~^.][^\n]*)\n(([=\-~^])\3{2,})$", fix, source[0], flags=re.M)


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("source-read", _fix_gallery_titles)


# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skising {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# No left sidebar on the reading pages (the top bar navigates; the right one
# holds the page's contents), so text, tables and formulas get the width.
html_sidebars = {
    page: []
    for page in ["index", "getting_started", "performance", "choosing_a_baseline", "api", "user_guide/*", "applications/*"]
}


# -- generated fragments: benchmark results ------------------------------------
# Application pages include ``_generated/results_<task>.md``: the benchmark's
# own Markdown table when ``benchmarks/results/<task>.md`` exists, else a note
# saying how to produce it. Regenerated on every build, so the pages always
# show the latest committed results without copying them into doc/.
RESULTS = ROOT / "benchmarks" / "results"
GEN = HERE / "_generated"


def _write_results_fragments():
    GEN.mkdir(exist_ok=True)
    for task, script in [
        ("engine", "bench_engine.py"),
        ("sai", "bench_sai.py"),
        ("explain", "bench_explain.py"),
        ("mesh", "bench_mesh.py"),
        ("segment", "bench_segment.py"),
    ]:
        src = RESULTS / f"{task}.md"
        out = GEN / f"results_{task}.md"
        if src.exists():
            text = src.read_text(encoding="utf-8")
            # a results file starts with its own H1: demote every heading one level
            lines, fence = [], False
            for ln in text.splitlines():
                if ln.lstrip().startswith("```"):
                    fence = not fence
                lines.append("#" + ln if ln.startswith("#") and not fence else ln)
            text = "\n".join(lines) + "\n"
            text += f"\n*Source: `benchmarks/results/{task}.md`"
            text += f", written by `benchmarks/{script}`.*\n" if script else ".*\n"
        else:
            how = f"`python benchmarks/{script}`" if script else "its script"
            heading = "## Engine benchmark" if task == "engine" else "## Results"
            text = (
                f"{heading}\n\n```{{note}}\nNo `benchmarks/results/{task}.md` in this checkout yet: "
                f"run {how} to produce it.\n```\n"
            )
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            out.write_text(text, encoding="utf-8")


_write_results_fragments()


def _engine_scaling_plot(results_dir, out_png):
    """Log-log plot of sweep and colouring time against graph size, drawn from
    the tidy records of ``benchmarks/results/engine.json`` (``None`` if absent)."""
    import json

    src = results_dir / "engine.json"
    if not src.exists():
        return None
    try:
        recs = json.loads(src.read_text(encoding="utf-8"))
    except ValueError:
        return None
    series = {
        "sampling: seconds per sweep (1 chain)": ("skising (scaling) 1 chain", "sweep_seconds"),
        "colouring: seconds (Jones-Plassmann-LF)": ("skising JP-LF (scaling)", "coloring_seconds"),
    }
    pts = {}
    for label, (method, metric) in series.items():
        xy = []
        for r in recs:
            if r.get("method") == method and r.get("metric") == metric and r.get("mean"):
                try:
                    n = float(str(r["dataset"]).rsplit("_", 1)[-1])
                except ValueError:
                    continue
                xy.append((n, float(r["mean"])))
        if len(xy) >= 2:
            pts[label] = sorted(xy)
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, xy in pts.items():
        x, y = zip(*xy)
        ax.loglog(x, y, "o-", label=label)
    x0 = [p[0] for xy in pts.values() for p in xy]
    ax.set_xlabel("nodes (Delaunay graph, about 3 edges per node)")
    ax.set_ylabel("seconds")
    ax.set_title("Engine scaling on CPU (from engine.json)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_xlim(min(x0) / 1.5, max(x0) * 1.5)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def _write_engine_fragment():
    out = GEN / "results_engine.md"
    png = _engine_scaling_plot(RESULTS, GEN / "engine_scaling.png")
    if png is None:
        return
    text = out.read_text(encoding="utf-8")
    text += (
        "\n```{figure} /_generated/engine_scaling.png\n:width: 70%\n\n"
        "Time per sweep and per colouring against graph size, drawn from the scaling records of "
        "`benchmarks/results/engine.json`; a slope of 1 on these axes is linear scaling.\n```\n"
    )
    out.write_text(text, encoding="utf-8")


_write_engine_fragment()


def _write_note_fragments():
    """Wrap the helpers' notes (``doc/<area>.md``) for inclusion by the application pages.

    The fragment *includes* the note (so its later edits show up, and Sphinx
    rebuilds when it changes); a placeholder stands in while a note is absent.
    """
    GEN.mkdir(exist_ok=True)
    known = [
        ("explain", "# Explaining GNN graph classifiers"),
        ("mesh", "# Mesh sparsification"),
        ("precondition", "# Sparse approximate inverse preconditioners"),
        ("segment", "# Image segmentation"),
        ("engine", "## Engine design notes"),
    ]
    for area, title in known:
        out = GEN / f"note_{area}.md"
        if (HERE / f"{area}.md").exists():
            offset = "\n:heading-offset: 1" if title.startswith("##") else ""
            # "/x.md" is relative to doc/: a nested include would otherwise resolve
            # from the including page's folder
            text = f"```{{include}} /{area}.md\n:relative-images:{offset}\n```\n"
        else:
            text = f"{title}\n\n```{{note}}\nThe notes `doc/{area}.md` are not in this checkout.\n```\n"
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            out.write_text(text, encoding="utf-8")
    # notes nobody has placed yet: shown at the end of the Applications page
    others = sorted(p.name for p in HERE.glob("*.md")
                    if p.name not in OWN_MD_PAGES and p.stem not in {a for a, _ in known})
    text = "".join(f"```{{include}} /{name}\n:relative-images:\n:heading-offset: 1\n```\n\n" for name in others)
    out = GEN / "notes_other.md"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")


_write_note_fragments()


def _write_demo_fragment():
    """The README's demo table (``python -m skising demo``), when present."""
    out = GEN / "results_demo.md"
    text = "```{note}\nRun `python -m skising demo` to print the demo table.\n```\n"
    readme = ROOT / "README.md"
    if readme.exists():
        lines = readme.read_text(encoding="utf-8").splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.startswith("#") and "Demo result" in ln), None)
        if start is not None:
            level = len(lines[start]) - len(lines[start].lstrip("#"))
            end = next(
                (j for j in range(start + 1, len(lines))
                 if lines[j].startswith("#") and len(lines[j]) - len(lines[j].lstrip("#")) <= level),
                len(lines),
            )
            body = "\n".join(lines[start + 1:end]).strip()
            text = body + "\n\n*Source: the README's demo section, printed by `python -m skising demo`.*\n"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")


_write_demo_fragment()


# -- API reference, generated from the public re-exports ---------------------------
# ``api.rst`` is written here from each subpackage's ``__all__`` so that every
# public name is documented and new exports appear without editing the docs.
API_SECTIONS = [
    ("skising.sampling", "The Ising engine"),
    ("skising.graph", "Graphs"),
    ("skising.gradients", "Gradients"),
    ("skising.subsampling", "Generic learned subsampler"),
    ("skising.baselines", "Baselines"),
    ("skising.fields", "Field networks"),
    ("skising.explain", "Explaining GNN classifiers"),
    ("skising.sparsify", "Mesh sparsification"),
    ("skising.precondition", "Sparse approximate inverse preconditioners"),
    ("skising.segment", "Image segmentation"),
    ("skising.datasets", "Datasets"),
    ("skising.metrics", "Metrics"),
    ("skising.mesh", "Mesh geometry"),
    ("skising.distributed", "Beyond one process (torch.distributed)"),
    ("skising.estimator_checks", "scikit-learn estimator checks"),
]


def _write_api_page():
    import importlib

    out = [
        ".. This file is generated by doc/conf.py from the packages' __all__; do not edit.",
        "",
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of skising, grouped by subpackage. The most used ones are also",
        "re-exported at the top level (``from skising import ...``):",
        "",
    ]
    canonical = {}
    for mod_name, _ in API_SECTIONS:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            canonical.setdefault(id(getattr(mod, name)), f"{mod_name}.{name}")
    refs = []
    for name in skising.__all__:
        target = canonical.get(id(getattr(skising, name)))
        role = "class" if isinstance(getattr(skising, name), type) else "func"
        refs.append(f":py:{role}:`{name} <{target}>`" if target else f"``{name}``")
    out += [", ".join(refs) + ".", ""]
    seen = set()
    for mod_name, title in API_SECTIONS:
        mod = importlib.import_module(mod_name)
        names = []
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if id(obj) in seen or not callable(obj):
                continue
            seen.add(id(obj))
            names.append(name)
        out += [f"``{mod_name}``: {title}", "-" * (len(mod_name) + len(title) + 6), ""]
        out += [f".. automodule:: {mod_name}", "   :no-members:", "   :no-index:", ""]
        out += [f".. currentmodule:: {mod_name}", ""]
        for kind, pred in (("Classes", lambda o: isinstance(o, type)), ("Functions", lambda o: not isinstance(o, type))):
            sel = [n for n in names if pred(getattr(mod, n))]
            if not sel:
                continue
            # templates: _templates/autosummary/{class,function}.rst, chosen by object type
            out += [f".. rubric:: {kind}", "", ".. autosummary::", "   :toctree: generated/",
                    "", *[f"   {n}" for n in sel], ""]
    text = "\n".join(out) + "\n"
    path = HERE / "api.rst"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_write_api_page()
