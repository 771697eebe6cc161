"""Hooks for sphinx-gallery, referenced by name from ``conf.py`` (so the
configuration stays picklable)."""

import ast
from pathlib import Path


def reset_argv(gallery_conf, script_vars):
    """Run every example as ``python examples/plot_x.py`` would: no arguments.

    sphinx-gallery deliberately leaves ``__file__`` undefined and blanks
    ``__doc__``; the examples use them (output paths, argparse descriptions),
    so both are set as in a plain run.
    """
    example_globals = script_vars.get("example_globals")
    src = str(script_vars["src_file"])
    if example_globals is not None:
        example_globals.setdefault("__file__", src)
        if not example_globals.get("__doc__"):
            try:
                example_globals["__doc__"] = ast.get_docstring(ast.parse(Path(src).read_text(encoding="utf-8")))
            except (OSError, SyntaxError):
                pass
    return []
