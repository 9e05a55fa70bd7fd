"""A batch of images through the default pipeline, one after the other.

From the repository root:       python session2_pipeline/demos/demo_batch.py
From inside session2_pipeline:  python demos/demo_batch.py

Makes 12 sample images (the real photo plus generated ones in four sizes) and
one text file named like a photo, then processes the folder with a progress
bar. The text file is reported and skipped; the batch goes on. The total time
printed at the end is the baseline that threads (session 3) and worker
processes (session 4) try to beat on the same images.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from session2_pipeline.core import BatchProcessor, BatchReport, default_pipeline
from workshop.images import make_sample_images
from workshop.paths import OUTPUT_DIR

# Sorts between the sample images, so the output shows the batch going on after it.
BAD_FILE_NAME = "sample_05b_not_a_photo.jpg"


def prepare_inputs(folder: Path, count: int) -> Path:
    """``count`` sample images plus one text file that only pretends to be a JPEG.

    Sample images left by an earlier run with a larger ``--count`` are removed, so
    the batch processes exactly what this run asked for.
    """
    wanted = set(make_sample_images(folder, count))
    for leftover in [*folder.glob("sample_*.jpg"), *folder.glob("photo_*.jpg")]:
        if leftover not in wanted and leftover.name != BAD_FILE_NAME:
            leftover.unlink()
    (folder / BAD_FILE_NAME).write_text("Just text. The .jpg extension does not make it a photo.\n")
    return folder


def print_report(report: BatchReport) -> None:
    print(f"\n  {'image':<30}{'time':>10}   result")
    for outcome in report.outcomes:
        name = Path(outcome.input_path).name
        result = "ok" if outcome.ok else "SKIPPED (reason below)"
        print(f"  {name:<30}{outcome.seconds:>8.3f} s   {result}")
    print()
    print(report.summary())


def main(argv: list[str] | None = None) -> BatchReport:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="sample images (default: 12)")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR / "session2",
                        help="folder for inputs/ and batch_output/ (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    inputs = prepare_inputs(args.output / "inputs", args.count)
    pipeline = default_pipeline()
    processor = BatchProcessor(pipeline, args.output / "batch_output",
                               show_progress=not args.no_progress)
    print(f"Inputs:   {inputs} ({args.count} images + {BAD_FILE_NAME})")
    print(f"Output:   {processor.output_dir}")
    print(f"Pipeline: {pipeline}")
    print(f"CPU cores: {os.cpu_count()}; this batch uses one of them.\n")

    report = processor.process(inputs)
    print_report(report)
    print(f"\nBaseline: {report.total_seconds:.2f} s for {len(report.outcomes)} files, "
          f"one after the other. Sessions 3 and 4 process the same images in parallel.")
    return report


if __name__ == "__main__":
    main()
