"""Hooks for sphinx-gallery, referenced by name from ``conf.py`` (so the
configuration stays picklable)."""


def reset_argv(gallery_conf, script_vars):
    """Run every example without command-line arguments, as ``python plot_x.py`` would.

    sphinx-gallery deliberately leaves ``__file__`` undefined; the examples use it
    to find the repository and their output paths, so define it as a plain run does.
    """
    example_globals = script_vars.get("example_globals")
    if example_globals is not None and "__file__" not in example_globals:
        example_globals["__file__"] = str(script_vars["src_file"])
    return []
