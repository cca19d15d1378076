"""The `smsq` console script. The base install (what an application needs) has the script but not
the command's own dependencies: say which extra to install instead of a traceback."""

from __future__ import annotations

import sys

# Which extra brings each package a command needs at start-up.
EXTRA_OF = {"typer": "cli", "rich": "cli", "fastapi": "api", "uvicorn": "api"}


def main() -> None:
    try:
        from smsq.cli.main import main as run
    except ModuleNotFoundError as missing:
        extra = EXTRA_OF.get((missing.name or "").split(".")[0])
        if extra is None:
            raise
        sys.exit(
            f'error: the smsq command needs the {extra} extra: pip install "smsq[{extra}]"'
            f" ({missing.name} is not installed)"
        )
    run()
