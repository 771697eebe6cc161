"""Print the README's two set-up commands (the first ```bash block), one per line.

Exits non-zero unless the block holds exactly two commands: one that installs
and runs ``python -m skising demo``, one that installs and runs ``pytest``.
With ``--check FILE``, also exits non-zero unless both commands stand verbatim
as lines of FILE (``.ci/run``), so CI runs exactly what a new user runs.
"""

import sys
from pathlib import Path


def readme_commands(path):
    text = Path(path).read_text(encoding="utf-8")
    start = text.index("```bash\n") + len("```bash\n")
    block = text[start : text.index("```", start)]
    cmds = [line.strip() for line in block.splitlines() if line.strip()]
    if len(cmds) != 2 or "python -m skising demo" not in cmds[0] or not cmds[1].rstrip().endswith("pytest"):
        raise SystemExit(f"{path}: the first bash block must hold the demo and the test command, got {cmds}")
    return cmds


def check(cmds, script):
    lines = {line.strip() for line in Path(script).read_text(encoding="utf-8").splitlines()}
    missing = [c for c in cmds if c not in lines]
    if missing:
        raise SystemExit(f"{script}: the README's commands must stand verbatim as lines, missing {missing}")


if __name__ == "__main__":
    args = sys.argv[1:]
    readme = args[0] if args and not args[0].startswith("--") else "README.md"
    cmds = readme_commands(readme)
    if "--check" in args:
        check(cmds, args[args.index("--check") + 1])
    print("\n".join(cmds))
