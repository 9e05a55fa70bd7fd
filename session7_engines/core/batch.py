"""Run a pipeline over many images, one after the other, and report on each.

This is the whole job done by one loop in one process: the baseline that
threads and worker processes have to beat. Two rules make it a good baseline
for them too:

- one bad image never stops the batch: it is recorded, with the reason, and
  the loop moves on;
- every output is written atomically, inside the output folder and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import PipelineInputError
from .image_io import resolve_inside
from .pipeline import FilterPipeline


@dataclass
class ImageOutcome:
    """What happened to one input image: an output path, or an error."""

    input_path: str
    output_path: str | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchReport:
    """Every image's outcome, in input order, and the time the whole batch took."""

    outcomes: list[ImageOutcome]
    total_seconds: float

    @property
    def succeeded(self) -> list[ImageOutcome]:
        return [outcome for outcome in self.outcomes if outcome.ok]

    @property
    def failed(self) -> list[ImageOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def summary(self) -> str:
        """A few lines for people: counts, total and average time, the failures."""
        done, failed = self.succeeded, self.failed
        lines = [f"{len(done)} of {len(self.outcomes)} images processed in "
                 f"{self.total_seconds:.2f} s ({len(failed)} failed)"]
        if done:
            average = sum(outcome.seconds for outcome in done) / len(done)
            slowest = max(done, key=lambda outcome: outcome.seconds)
            lines.append(f"  average {average:.3f} s per image; slowest "
                         f"{Path(slowest.input_path).name} ({slowest.seconds:.3f} s)")
        for outcome in failed:
            lines.append(f"  skipped {Path(outcome.input_path).name}: {outcome.error}")
        return "\n".join(lines)


class BatchProcessor:
    """Apply one pipeline to a folder (or a list) of images, writing into ``output_dir``.

    Each output keeps its input's file name, and so its format.
    """

    def __init__(self, pipeline: FilterPipeline, output_dir: str | Path, *,
                 show_progress: bool = True) -> None:
        self.pipeline = pipeline
        self.output_dir = Path(output_dir)
        self.show_progress = show_progress

    def process(self, inputs: str | Path | Sequence[str | Path]) -> BatchReport:
        """Process a folder's images, one image file, or a list of paths.

        A bad image (unreadable, not an image, too large...) becomes an outcome
        with an error, and the batch goes on.
        """
        paths = find_images(inputs)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        outcomes: list[ImageOutcome] = []
        started = time.perf_counter()
        with _progress_bar(self.show_progress) as progress:
            bar = progress.add_task("processing", total=len(paths), name="")
            used_names: set[str] = set()
            for path in paths:
                progress.update(bar, name=path.name)
                outcomes.append(self._process_one(path, used_names))
                progress.advance(bar)
        return BatchReport(outcomes, time.perf_counter() - started)

    def _process_one(self, path: Path, used_names: set[str]) -> ImageOutcome:
        started = time.perf_counter()
        output: Path | None = None
        try:
            output = resolve_inside(_unique_name(path.name, used_names), self.output_dir)
            if output == path.resolve():
                raise PipelineInputError(f"the output {output} would overwrite the input; "
                                 f"choose another output folder")
            self.pipeline.process_file(path, output)
        # Any Exception, not only PipelineInputError: in a batch, a bug that hits
        # one odd image should cost that image, not the other thousand. Ctrl-C
        # (KeyboardInterrupt) is not an Exception and still stops the batch.
        except Exception as error:
            return ImageOutcome(str(path), None, time.perf_counter() - started,
                                f"{type(error).__name__}: {error}")
        return ImageOutcome(str(path), str(output), time.perf_counter() - started)


def find_images(inputs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The image paths to process, in order.

    A folder gives its files whose extension Pillow knows (sorted by name;
    hidden files such as our own temporary files are skipped). A single path or
    a list is taken as given, so a missing file shows up as a failed image.
    """
    if isinstance(inputs, (str, Path)):
        inputs = Path(inputs)
        if inputs.is_dir():
            known = Image.registered_extensions()
            return sorted(path for path in inputs.iterdir()
                          if path.is_file() and not path.name.startswith(".")
                          and path.suffix.lower() in known)
        return [inputs]
    return [Path(path) for path in inputs]


def _unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``stem_2.ext``... if an earlier input of this batch had the same name."""
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{Path(name).stem}_{number}{Path(name).suffix}"
    used.add(candidate)
    return candidate


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[name]}"),
        disable=not enabled,
    )
