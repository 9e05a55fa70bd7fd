"""``python -m workshop notebooks`` (``make notebooks``): run every notebook, top to bottom.

Each notebook in ``notebooks/`` is executed in a fresh kernel of *this* Python (the
workshop's virtual environment, whatever other kernels are installed), one cell at a
time with a time limit per cell. The notebooks save their own figures as PNG
(``workshop.nbhelpers.save_figure``) into ``output/notebooks/figures/`` (git-ignored);
``--update-figures`` writes the committed ``notebooks/figures/`` instead, on purpose.

The committed ``.ipynb`` files are never modified: an in-memory copy is executed and
written, with its outputs, to ``output/notebooks/`` (git-ignored) so you can open it
and read what the run printed. Keeping outputs out of the committed files keeps the
diffs readable and the numbers honest: every figure comes from a run on your machine.

    python -m workshop notebooks                  # all, full size (about a minute each)
    python -m workshop notebooks 02 --quick       # only "02", small sizes (what the tests run)
    python -m workshop notebooks --quick          # all, small sizes
    python -m workshop notebooks --update-figures # all, full size, refresh notebooks/figures/
    python -m workshop.notebooks --redis embedded # the embedded server, as on a machine without Redis
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .console import make_console
from .paths import FIGURES_DIR, LEARNER_FIGURES_DIR, NOTEBOOKS_DIR, OUTPUT_DIR, REPO_ROOT

# Per-cell time limits in seconds. A full-size cell measures for a minute or two at
# most; anything much longer is a hang (a worker that never exits, a blocked read).
FULL_CELL_TIMEOUT = 600
QUICK_CELL_TIMEOUT = 120
EXECUTED_DIR = OUTPUT_DIR / "notebooks"


class NotebookCellError(RuntimeError):
    """A cell failed (or timed out): says which notebook, which cell, and what went wrong."""

    def __init__(self, notebook: Path, cell_number: int, cells: int, source: str,
                 reason: str) -> None:
        self.notebook = notebook
        self.cell_number = cell_number
        self.source = source
        self.reason = reason
        first_lines = "\n".join("    " + line for line in source.strip().splitlines()[:6])
        super().__init__(
            f"{notebook.name}, cell {cell_number} of {cells} failed:\n{first_lines}\n{reason}\n"
            f"(open {_shown(notebook)} and run it cell by cell to see more)"
        )


@dataclass
class NotebookRun:
    """What one run of a notebook produced."""

    notebook: Path
    seconds: float
    cells: int
    figures: list[Path] = field(default_factory=list)
    executed_copy: Path | None = None


def list_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The workshop's notebooks in order (``01_...ipynb``, ``02_...``).

    Not what a learner's own run leaves beside them: ``jupyter nbconvert --execute
    --to notebook`` writes ``01_name.nbconvert.ipynb``, a name with a second dot.
    """
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if "." not in p.stem)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _kernel_manager_class():
    """A kernel manager that always starts ``sys.executable``'s ipykernel.

    A learner may have a "python3" kernel registered for another Python (without the
    workshop's packages); running that one would fail with ModuleNotFoundError.
    """
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (workshop)", language="python", resource_dir="",
            )

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisPythonKernelSpecs(data_dir=self.data_dir)

    return ThisPythonKernelManager


def _error_reason(error: Exception) -> str:
    """The useful part of an nbclient error: the exception's name and value, or the timeout."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(error, CellExecutionError):
        return f"{error.ename}: {error.evalue}"
    if isinstance(error, CellTimeoutError):
        return f"timed out: {error}"
    if isinstance(error, DeadKernelError):
        return f"the kernel died: {error}"
    return f"{type(error).__name__}: {error}"


def run_notebook(
    path: str | Path,
    *,
    quick: bool = False,
    cell_timeout: float | None = None,
    env: dict[str, str] | None = None,
    save_executed: bool = True,
    on_cell: Callable[[int, int], None] | None = None,
) -> NotebookRun:
    """Execute the notebook at ``path`` in a new kernel; raise NotebookCellError on failure.

    ``quick`` sets ``WORKSHOP_QUICK=1`` in the kernel. ``env`` adds more variables.
    ``on_cell(done, total)`` is called after each cell (for progress bars). The file
    at ``path`` is only read; the executed copy goes to ``output/notebooks/``.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path).resolve()
    notebook = copy.deepcopy(nbformat.read(path, as_version=4))
    timeout = cell_timeout or (QUICK_CELL_TIMEOUT if quick else FULL_CELL_TIMEOUT)
    kernel_env = dict(os.environ)
    kernel_env.pop("WORKSHOP_QUICK", None)
    if quick:
        kernel_env["WORKSHOP_QUICK"] = "1"
    kernel_env.update(env or {})
    # Jupyter's inline backend: draws without a display, whatever MPLBACKEND says outside.
    kernel_env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    figures_folder = _figures_folder(kernel_env, quick)

    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
        resources={"metadata": {"path": str(path.parent)}},
    )
    figures_before = _figure_times(figures_folder)
    cells = notebook.cells
    # What the kernel and its worker processes write straight to the terminal (not to a
    # cell's output) goes to a log file, so progress bars stay readable.
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    log_path = EXECUTED_DIR / f"{path.stem}.kernel.log"
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log, \
            client.setup_kernel(env=kernel_env, stdout=log, stderr=log):
        for index, cell in enumerate(cells):
            try:
                client.execute_cell(cell, index)
            except Exception as error:  # nbclient's errors, a dead kernel, a timeout
                _save_copy(notebook, path, save_executed)
                reason = f"{_error_reason(error)}\n(kernel log: {_shown(log_path)})"
                raise NotebookCellError(path, index + 1, len(cells), cell.source, reason) from None
            if on_cell is not None:
                on_cell(index + 1, len(cells))
    seconds = time.perf_counter() - start
    figures = sorted(p for p, t in _figure_times(figures_folder).items() if figures_before.get(p) != t)
    return NotebookRun(path, seconds, len(cells), figures, _save_copy(notebook, path, save_executed))


def _figures_folder(kernel_env: dict[str, str], quick: bool) -> Path:
    """Where the kernel's ``nbhelpers.save_figure`` will write, given its environment."""
    from .nbhelpers import FIGURES_ENV, QUICK_FIGURES_DIR

    if kernel_env.get(FIGURES_ENV):
        return Path(kernel_env[FIGURES_ENV])
    return QUICK_FIGURES_DIR if quick else LEARNER_FIGURES_DIR


def _figure_times(folder: Path) -> dict[Path, float]:
    """Modification times of the PNGs in ``folder`` (to see which ones a run wrote)."""
    return {p: p.stat().st_mtime for p in folder.glob("*.png")} if folder.is_dir() else {}


def _save_copy(notebook, path: Path, save: bool) -> Path | None:
    if not save:
        return None
    import nbformat

    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    target = EXECUTED_DIR / path.name
    nbformat.write(notebook, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks with a progress bar; print the figures written; 1 if any failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from rich.text import Text

    from .nbhelpers import FIGURES_ENV

    parser = argparse.ArgumentParser(prog="python -m workshop notebooks",
                                     description="Run the workshop's notebooks and save their figures.")
    parser.add_argument("only", nargs="*", help="run only notebooks whose name contains this")
    parser.add_argument("--quick", action="store_true", help="small sizes (WORKSHOP_QUICK=1)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    parser.add_argument("--redis", choices=("auto", "embedded"), default="auto",
                        help="'embedded' ignores a running Redis, as on a machine without one")
    parser.add_argument("--update-figures", action="store_true",
                        dest="update_figures",
                        help="write the committed notebooks/figures/ (full mode only)")
    args = parser.parse_args(argv or [])
    if args.update_figures and args.quick:
        parser.error("--update-figures needs full mode: quick figures are not the README's")

    console = make_console()
    notebooks = [p for p in list_notebooks() if not args.only or any(s in p.name for s in args.only)]
    if not notebooks:
        console.print(f"[red]No notebooks found in {_shown(NOTEBOOKS_DIR)} matching {args.only}")
        return 1
    env = {"WORKSHOP_NOTEBOOK_REDIS": "embedded"} if args.redis == "embedded" else {}
    if args.update_figures:
        env[FIGURES_ENV] = str(FIGURES_DIR)
    mode = "quick" if args.quick else "full"
    console.print(f"Running {len(notebooks)} notebook(s), {mode} mode; figures go to "
                  f"{_shown(_figures_folder(env, args.quick))}/")

    runs: list[NotebookRun] = []
    failures: list[NotebookCellError] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("cells"), TimeElapsedColumn(), console=console) as progress:
        for path in notebooks:
            bar = progress.add_task(path.stem, total=None)

            def advance(done: int, total: int, bar=bar) -> None:
                progress.update(bar, completed=done, total=total)

            try:
                runs.append(run_notebook(path, quick=args.quick, cell_timeout=args.timeout,
                                         env=env, on_cell=advance))
                progress.update(bar, description=f"[green]{path.stem}")
            except NotebookCellError as error:
                progress.update(bar, description=f"[red]{path.stem} (cell {error.cell_number})")
                failures.append(error)

    table = Table(title=f"Notebooks ({mode} mode)")
    for column in ("notebook", "seconds", "figures written"):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(run.notebook.stem, f"{run.seconds:.1f}",
                      "\n".join(p.name for p in run.figures) or "-")
    console.print(table)
    if runs and runs[0].executed_copy is not None:
        console.print(f"Executed copies (with outputs): {_shown(EXECUTED_DIR)}/")
    for error in failures:
        console.print(Text("FAILED ", style="bold red") + Text(str(error)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
