"""``python -m gridres`` and the ``gridres`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    """Start the command line; Ctrl-C while it is still loading exits 130 quietly."""
    try:
        from gridres.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
