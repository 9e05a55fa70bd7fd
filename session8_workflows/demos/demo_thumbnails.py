"""Demo: thumbnails of a folder in parallel, then a contact sheet and a zip when all are done.

    python session8_workflows/demos/demo_thumbnails.py        (from the repository)
    python demos/demo_thumbnails.py                           (from session8_workflows/)

One workflow on session 5's queue, run by three worker processes:

    chain(chord(group([thumbnail(image) for each image]), contact_sheet), zip)

Each thumbnail runs session 2's filters on one image and saves a small copy;
the contact sheet (the chord's callback) is enqueued once, by the step that
records the last thumbnail, with every thumbnail's result; the zip gets the
sheet's result. The tree printed at the end is ``python -m session8_workflows
show <id>``. Outputs go to output/session8/thumbnails/.
"""

from __future__ import annotations

import argparse
import sys
import time

from session2_pipeline.core.samples import OUTPUT_DIR, make_sample_images
from session5_recovery.demos.support import redis_for_processes
from session5_recovery.workers import RecoverySettings
from session8_workflows import WorkflowFleet, WorkflowQueue, chain, chord, demo_handlers, group
from session8_workflows.cli import format_tree

QUEUE_NAME = "demo_thumbnails"
FOLDER = OUTPUT_DIR / "session8" / "thumbnails"


def build(images: list, out) -> chain:
    thumbs = [{"type": "thumbnail", "image_path": str(p), "filters": ["grayscale"],
               "output_path": str(out / f"thumb_{p.stem}.png")} for p in images]
    return chain(chord(group(thumbs), {"type": "contact_sheet",
                                       "output_path": str(out / "contact_sheet.png")}),
                 {"type": "zip", "output_path": str(out / "thumbnails.zip")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_thumbnails.py",
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument("--images", type=int, default=12, help="how many sample images")
    parser.add_argument("--keep", action="store_true", help="keep the Redis keys at the end")
    args = parser.parse_args(argv)
    target = redis_for_processes()
    if target is None:
        return 1
    settings = RecoverySettings(heartbeat_interval=0.5, heartbeat_ttl=2.5, reap_interval=0.5)
    queue = WorkflowQueue(url=target.url, queue_name=QUEUE_NAME, settings=settings)
    queue.clear()
    images = make_sample_images(FOLDER / "samples", args.images)
    out = FOLDER / "out"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    wid = queue.workflows.start(build(images, out), known_types=demo_handlers().names())
    print(f"workflow {wid}: {len(images)} thumbnails, then a contact sheet, then a zip\n")
    with WorkflowFleet(target.url, QUEUE_NAME, settings=settings,
                       allowed_dirs=[OUTPUT_DIR]) as fleet:
        fleet.start(3)
        shown = -1
        while queue.workflows.state(wid) == "running":
            view = queue.workflows.view(wid)
            done = view.total - view.remaining
            if done != shown:
                print(f"  {done:>2} of {view.total} tasks done")
                shown = done
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    view = queue.workflows.view(wid)
    print(f"\n{format_tree(view)}\n")
    sheet = queue.get_result(queue.workflows.task_id(wid, str(len(images))))
    archive = queue.get_result(queue.workflows.task_id(wid, str(len(images) + 1)))
    if view.state != "completed" or not sheet or not archive:
        print(f"the workflow ended {view.state}: {view.reason}")
        return 1
    print(f"contact sheet  {sheet['sheet']} ({len(sheet['thumbnails'])} thumbnails)")
    print(f"zip            {archive['zip']} ({archive['files']} files)")
    print(f"time           {seconds:.1f} s, 3 worker processes")
    if not args.keep:
        queue.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
