"""``python -m session5_recovery.workers``: see ``cli.py`` for the commands."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
