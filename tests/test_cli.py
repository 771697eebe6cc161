"""The command line: --version, help text for every option, one subcommand per application."""

import argparse
import io
from contextlib import redirect_stdout

import pytest

import skising
from skising.__main__ import main


def _parsers():
    """The top-level parser and every subparser, built the way main() builds them."""
    captured = {}
    orig = argparse.ArgumentParser.parse_args

    def grab(self, args=None, namespace=None):
        captured["parser"] = self
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = grab
    try:
        with pytest.raises(SystemExit):
            main([])
    finally:
        argparse.ArgumentParser.parse_args = orig
    top = captured["parser"]
    subs = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)][0]
    return top, subs.choices


def test_version():
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert out.getvalue().strip() == f"skising {skising.__version__}"


def test_every_option_has_help_and_no_rest_markup():
    top, subs = _parsers()
    assert {"demo", "explain", "segment", "sai", "mesh"} <= set(subs)
    for name, p in [("", top), *subs.items()]:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name or 'top'}: option {action.option_strings} has no help text"
        text = p.format_help()
        assert "``" not in text and ":class:" not in text, name


def test_no_command_prints_help_and_fails():
    out = io.StringIO()
    with redirect_stdout(out):
        assert main([]) == 2
    assert "COMMAND" in out.getvalue()


@pytest.mark.parametrize("argv", [["demo", "--fraction", "1.5"], ["demo", "--epochs", "-1"],
                                  ["explain", "--n-graphs", "0"], ["demo", "--threads", "0"]])
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert argv[1].lstrip("-") in capsys.readouterr().err


def test_demo_runs_and_learned_field_beats_baselines():
    out = io.StringIO()
    from skising.__main__ import demo

    rows = demo(epochs=60, out=out)
    loss = {r["method"].split(" (")[0]: r["loss"] for r in rows}
    assert loss["ISING+MAG"] < min(loss["RANDOM"], loss["ISING"], loss["SPECTRAL"])


def test_ci_runs_the_readme_commands_verbatim(tmp_path):
    """CI runs the README's two set-up commands as written, in a fresh venv, with nothing installed first."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("readme_commands", root / ".ci" / "readme_commands.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    demo_cmd, test_cmd = mod.readme_commands(root / "README.md")
    assert demo_cmd.endswith("python -m skising demo") and test_cmd.endswith("pytest")
    ci = (root / ".ci" / "run").read_text()
    mod.check([demo_cmd, test_cmd], root / ".ci" / "run")  # both verbatim as lines
    assert "python3 -m venv" in ci and "--check .ci/run" in ci
    # nothing installed into the venv before the README's test command
    before = ci.split(test_cmd)[0]
    assert "pip install" not in before
    # the check fails on a script that runs something else
    other = tmp_path / "run"
    other.write_text(ci.replace(test_cmd, 'pip install -e ".[all]" && pytest'))
    with pytest.raises(SystemExit, match="verbatim"):
        mod.check([demo_cmd, test_cmd], other)


def test_segment_command_on_real_horses(shared_data):
    from skising.__main__ import segment

    out = io.StringIO()
    rows = segment(epochs=1, size=32, out=out)
    assert [r["method"] for r in rows] == ["IsingSegmenter", "UNetSegmenter"]
    assert all(0.0 <= r["dice"] <= 1.0 for r in rows)
    assert "Dice" in out.getvalue()
