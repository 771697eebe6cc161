"""Print the README's two set-up commands (the first ```bash block), one per line.

Exits non-zero unless the block holds exactly two commands: one that installs
and runs ``python -m skising demo``, one that installs and runs ``pytest``.
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


if __name__ == "__main__":
    print("\n".join(readme_commands(sys.argv[1] if len(sys.argv) > 1 else "README.md")))
