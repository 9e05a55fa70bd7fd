"""The rich Console every command prints with: it wraps for a terminal, never for a pipe.

In a terminal rich fits the output to the window. Piped into a file, ``less`` or a
CI log, rich would assume 80 columns and break long lines wherever they reach the
edge, even in the middle of a command the reader is meant to copy. So when the
output is not a terminal, lines are never wrapped (``soft_wrap``) and rules,
tables and panels get a comfortable fixed width instead of 80 columns.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

PIPE_WIDTH = 120


def make_console(**kwargs: Any) -> Console:
    """A Console that behaves as described above; ``kwargs`` go to ``rich.console.Console``."""
    console = Console(**kwargs)
    if console.is_terminal or "width" in kwargs:
        return console
    return Console(width=PIPE_WIDTH, soft_wrap=True, **kwargs)
