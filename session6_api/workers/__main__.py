"""``python -m session5_recovery.workers``: the command line, kept where session 4 put it.

The commands live with the other tools, in ``tools/cli.py``. This file is an
entry script, not part of the library: Python runs it for ``-m`` and nothing
imports it, so the queue's modules still never import a tool.
"""

from ..tools.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
