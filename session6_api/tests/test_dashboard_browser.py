"""The dashboard in a real browser (the system Chromium, driven by Playwright).

Each test starts ``python -m session6_api serve`` on a free port (a queue of its
own on the real Redis, a SQLite file in tmp_path) and, where the test must
decide when work happens, worker processes of its own (session 5's
``WorkerFleet``). Every assertion is about what a person sees on the page.
Waits are Playwright's ``expect``, bounded by WAIT_MS: generous enough to hold
on a machine ten times busier, never a fixed sleep.

Under CI=true these tests must run: no Chromium (or no Playwright) fails them.
Elsewhere they skip, saying how to get Chromium.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from session5_recovery.tools import WorkerFleet
from session6_api.config import ApiConfig
from session6_api.services import open_queue, open_store
from session6_api.testing.dashboard_testing import (
    HOW_TO_GET_CHROMIUM,
    chromium_path,
    fill_completed,
    fill_rows,
    image_bytes,
    launch_args,
)
from session6_api.testing.livetest import LiveServer
from session6_api.tests.test_s6_progress_and_names import report_progress
from workshop.paths import OUTPUT_DIR
from workshop.waiting import wait_until

# A scenario waits for several things in turn, each up to WAIT_MS: more than the suite's
# default per-test limit.
pytestmark = [pytest.mark.redis, pytest.mark.multiprocess, pytest.mark.slow,
              pytest.mark.timeout(600)]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WAIT_MS = 90_000  # the longest any one expectation waits
SHOTS = OUTPUT_DIR / "session6"
SAMPLE = "photo_grace_hopper.jpg"
# Several seconds of filtering on a 4800 x 4800 image: a worker is surely still holding it
# when the test kills it, whatever the load. The killed attempt costs only the moments until
# the kill; the test then swaps in a small image (swap_in_a_small_image) so that the
# attempt that completes costs nothing either.
SLOW_FILTERS = ["blur:radius=40", "edges"] * 5


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: the browser tests must run in CI ({HOW_TO_GET_CHROMIUM})")
    pytest.skip(f"{reason}; {HOW_TO_GET_CHROMIUM}")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -r requirements.txt)")
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=launch_args())
        yield chromium
        chromium.close()


@pytest.fixture
def expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return expect


def new_page(browser, width: int = 1280, height: int = 720):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def page(browser) -> Iterator:
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def config(tmp_path: Path, redis_url: str, queue_name: str, table_prefix: str) -> Iterator[ApiConfig]:
    config = ApiConfig(redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'tasks.db'}",
                       queue_name=queue_name, data_dir=tmp_path / "data",
                       table_prefix=table_prefix, background=False)
    yield config
    store = open_store(config)
    store.drop_schema()
    store.close()


def live(config: ApiConfig, workers: int = 0, env: dict[str, str] | None = None) -> LiveServer:
    return LiveServer(redis_url=config.redis_url, queue_name=config.queue_name,
                      database_url=config.database_url, data_dir=config.data_dir,
                      table_prefix=config.table_prefix, workers=workers, env=env)


@pytest.fixture
def fleet(config: ApiConfig) -> Iterator[WorkerFleet]:
    """Workers started by the test itself, so it decides when work happens (and kills)."""
    workers = WorkerFleet(config.redis_url, config.queue_name, allowed_dirs=[config.data_dir],
                          prefix="w")
    yield workers
    workers.stop()


def count(page, state: str):
    return page.locator(f"#count-{state}")


def worker_row(page, worker_id: str):
    return page.locator(f'#workers tr[data-worker="{worker_id}"]')


def submit_on_page(page, *, sample: str | None = None, upload: Path | None = None) -> str:
    """Fill the page's form and submit; the id the page says was accepted."""
    if upload is not None:
        page.set_input_files("#submit-file", str(upload))
    elif sample is not None:
        page.select_option("#submit-sample", sample)
    previous = page.locator("#submit-result").get_attribute("data-task")
    page.get_by_role("button", name="Submit the task").click()
    result = page.locator("#submit-result")
    from playwright.sync_api import expect

    expect(result).to_contain_text("Accepted", timeout=WAIT_MS)
    if previous is not None:
        expect(result).not_to_have_attribute("data-task", previous, timeout=WAIT_MS)
    return result.get_attribute("data-task")


def timings(page) -> dict[str, float]:
    return page.evaluate("""() => {
        const nav = performance.getEntriesByType("navigation")[0];
        return {dom_ms: nav.domContentLoadedEventEnd, first_state_ms: window.dashboardMetrics.firstState,
                delays: window.dashboardMetrics.eventDelays};
    }""")


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """What a person sees from the top of the page, saved under output/session6/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / name), full_page=full_page)


def report(name: str, figures: dict) -> None:
    """Print the figures and keep them under output/ (the README quotes a run of them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    print(f"\n{name}: {json.dumps(figures)}")


def test_counts_change_as_tasks_are_submitted_and_processed(page, expect, config, fleet, capsys):
    with live(config, workers=0) as server:
        page.goto(server.url + "/")
        expect(page.locator("#connection")).to_have_text("live")
        expect(count(page, "pending")).to_have_text("0")
        ids = [submit_on_page(page, sample=SAMPLE) for _ in range(3)]
        assert len(set(ids)) == 3
        # No worker yet: the three wait, and the page says so without a reload.
        expect(count(page, "pending")).to_have_text("3")
        expect(page.locator("#count-pending-normal")).to_have_text("3")
        expect(count(page, "completed")).to_have_text("0")
        expect(page.locator("#feed li[data-event=enqueued]")).to_have_count(3)
        (worker,) = fleet.start(1)
        expect(worker_row(page, worker)).to_contain_text(str(fleet.pid(worker)))
        expect(count(page, "completed")).to_have_text("3")
        expect(count(page, "pending")).to_have_text("0")
        expect(worker_row(page, worker).locator("td").last).to_have_text("3")  # tasks done
        for task_id in ids:
            expect(page.locator(f'#tasks tr[data-task="{task_id}"] .status')).to_have_text(
                "completed")
        expect(page.locator("#feed li[data-event=completed]").first).to_contain_text(
            f"completed by {worker}")
        expect(page.locator("#chart rect[height]:not([height='0'])")).not_to_have_count(0)
        # More events for the event-to-screen figure: 20 tasks posted as fast as the API takes them.
        with httpx.Client(base_url=server.url, timeout=60) as api:
            for _ in range(20):
                assert api.post("/tasks", json={"image": SAMPLE}).status_code == 202
        expect(count(page, "completed")).to_have_text("23")
        figures = timings(page)
        delays = figures.pop("delays")
        assert delays, "the page recorded no event"
        figures.update(events=len(delays), event_to_screen_median_ms=statistics.median(delays),
                       event_to_screen_max_ms=max(delays))
        with capsys.disabled():
            report("dashboard_timings", figures)
        screenshot(page, "dashboard_1280x720.png")


def swap_in_a_small_image(config: ApiConfig, image_id: str) -> None:
    """Replace an uploaded image's file with a 64 x 64 one, in one atomic step.

    Done while the task's only holder is dead and before its heartbeat expires: no worker
    reads the file then, and the next attempt (what the test is about) filters 64 x 64 pixels
    instead of 23 million.
    """
    (stored,) = config.images_dir.glob(f"{image_id}.*")
    partial = stored.with_name(stored.name + ".part")
    partial.write_bytes(image_bytes(64, 64, "JPEG"))
    partial.replace(stored)


def test_a_worker_killed_with_sigkill_shows_as_lost_and_its_task_completes_elsewhere(
        browser, page, expect, config, fleet, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(image_bytes(4800, 4800, "JPEG"))
    with live(config, workers=0) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        workers = fleet.start(2)
        page.goto(server.url + "/")
        for worker in workers:
            expect(worker_row(page, worker).locator(".state")).to_have_text("alive")
        image = api.post("/images", files={"file": ("big.jpg", big.read_bytes())}).json()["id"]
        task_id = api.post("/tasks", json={"image": image, "filters": SLOW_FILTERS}).json()["id"]
        holder = page.locator(f'#workers tr:has(a[title="{task_id}"])')
        expect(holder).to_have_count(1)
        victim = holder.get_attribute("data-worker")
        (survivor,) = [w for w in workers if w != victim]
        fleet.kill(victim)  # SIGKILL: no handler runs, the task stays in its list
        swap_in_a_small_image(config, image)
        expect(worker_row(page, victim).locator(".state")).to_have_text("lost")
        expect(worker_row(page, victim)).to_contain_text("1 task taken back")
        expect(page.locator("#feed li[data-event=worker_lost]")).to_contain_text(
            f"{victim} LOST")
        screenshot(page, "dashboard_worker_lost.png")

        page.goto(f"{server.url}/ui/tasks/{task_id}")
        history = page.locator("#history tbody")
        expect(history.locator("tr[data-event=requeued]")).to_contain_text(victim)
        expect(history.locator("tr[data-event=requeued]")).to_contain_text("worker lost")
        expect(history.locator("tr[data-event=worker_lost]")).to_contain_text(f"{victim} LOST")
        expect(history.locator("tr[data-event=completed]")).to_contain_text(
            f"completed by {survivor} (attempt 2)")
        expect(page.locator("#task-status")).to_have_text("completed")
        expect(page.locator("#task-attempts")).to_have_text("2")
        expect(page.locator("#task-worker")).to_have_text(survivor)


def test_a_poison_task_lands_in_the_dlq_the_replay_button_brings_it_back(
        page, expect, config, fleet, tmp_path):
    with live(config, workers=0) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        page.goto(server.url + "/")
        expect(page.locator("#connection")).to_have_text("live")
        tasks = []
        for _ in range(2):
            image = api.post("/images", files={"file": ("x.png", image_bytes(64, 48))}).json()["id"]
            tasks.append(api.post("/tasks", json={"image": image}).json()["id"])
        expect(count(page, "pending")).to_have_text("2")
        # The poison: both uploads vanish before any worker runs the tasks.
        hidden = tmp_path / "hidden"
        hidden.mkdir()
        uploads = sorted((config.data_dir / "images").glob("img_*"))
        assert len(uploads) == 2
        for upload in uploads:
            upload.rename(hidden / upload.name)
        fleet.start(1)
        expect(count(page, "dead_lettered")).to_have_text("2")
        expect(count(page, "pending")).to_have_text("0")
        for task_id in tasks:
            expect(page.locator(f'#dlq tr[data-task="{task_id}"]')).to_contain_text(
                "InvalidImageError")
        fleet.stop()  # nobody claims, so "pending" stays on the screen after the replay
        for upload in hidden.iterdir():  # the cause is fixed...
            upload.rename(config.data_dir / "images" / upload.name)

        replayed, purged = tasks
        page.get_by_role("button", name=f"Replay task {replayed}").click()
        expect(count(page, "pending")).to_have_text("1")
        expect(count(page, "dead_lettered")).to_have_text("1")
        expect(page.locator(f'#dlq tr[data-task="{replayed}"]')).to_have_count(0)
        expect(page.locator("#feed li[data-event=replayed]")).to_contain_text(
            "replayed from the DLQ")
        expect(page.locator(f'#tasks tr[data-task="{replayed}"] .status')).to_have_text("pending")

        # Purge asks first; Cancel changes nothing.
        page.get_by_role("button", name="Purge the DLQ").click()
        expect(page.locator("#confirm-dialog")).to_be_visible()
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(count(page, "dead_lettered")).to_have_text("1")
        page.get_by_role("button", name="Purge the DLQ").click()
        page.get_by_role("button", name="Yes, do it").click()
        expect(count(page, "dead_lettered")).to_have_text("0")
        expect(page.locator(f'#dlq tr[data-task="{purged}"]')).to_have_count(0)

        fleet.start(1)
        expect(count(page, "completed")).to_have_text("1")
        expect(page.locator(f'#tasks tr[data-task="{replayed}"] .status')).to_have_text(
            "completed")


def test_pause_stops_claims_and_resume_restarts_them(page, expect, config, fleet):
    with live(config, workers=0) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        (worker,) = fleet.start(1)
        page.goto(server.url + "/")
        expect(worker_row(page, worker).locator(".state")).to_have_text("alive")
        page.get_by_role("button", name="Pause the queue").click()
        expect(page.locator("#paused-badge")).to_be_visible()
        ids = [api.post("/tasks", json={"image": SAMPLE, "priority": priority}).json()["id"]
               for priority in ("low", "high", "normal")]
        expect(count(page, "pending")).to_have_text("3")
        expect(page.locator("#count-pending-high")).to_have_text("1")
        expect(page.locator("#count-pending-low")).to_have_text("1")
        # A pending task can be cancelled from its row.
        page.get_by_role("button", name=f"Cancel task {ids[0]}").click()
        expect(count(page, "cancelled")).to_have_text("1")
        expect(count(page, "pending")).to_have_text("2")
        expect(page.locator(f'#tasks tr[data-task="{ids[0]}"] .status')).to_have_text("cancelled")
        # The worker is alive and asking for work (its heartbeat keeps beating) yet claims
        # nothing: let a few heartbeats go by, then the counts must not have moved.
        queue = open_queue(config)
        try:
            def last_beat() -> float:
                return next(w.last_seen for w in queue.workers() if w.worker_id == worker)

            # Each beat writes a newer last_seen (the key's TTL left is no measure: read
            # just after a beat it is already at its highest).
            for _ in range(3):
                before = last_beat()
                wait_until(lambda before=before: last_beat() > before, 60,
                           "the paused worker's next heartbeat")
        finally:
            queue.close()
        expect(count(page, "pending")).to_have_text("2")
        expect(count(page, "processing")).to_have_text("0")
        expect(count(page, "completed")).to_have_text("0")
        page.get_by_role("button", name="Resume the queue").click()
        expect(page.locator("#paused-badge")).to_be_hidden()
        expect(count(page, "completed")).to_have_text("2")
        expect(count(page, "pending")).to_have_text("0")
        # The high-priority task went first, though it was submitted after the low one.
        claims = page.locator("#feed li[data-event=claimed]")
        expect(claims).to_have_count(2)
        expect(claims.last.locator("a")).to_have_attribute("title", ids[1])


def test_a_submitted_image_s_task_page_shows_its_output_image(page, expect, config, tmp_path):
    upload = tmp_path / "mine.png"
    upload.write_bytes(image_bytes(320, 240))
    with live(config, workers=1) as server:
        page.goto(server.url + "/")
        page.check("input[name=edges]")
        page.fill("input[name=repeat]", "2")
        page.select_option("#submit-priority", "high")
        task_id = submit_on_page(page, upload=upload)
        page.locator("#submit-result a").click()
        expect(page).to_have_url(re.compile(f"/ui/tasks/{task_id}$"))
        expect(page.locator("#task-status")).to_have_text("completed")
        expect(page.locator("#task-priority")).to_have_text("high")
        expect(page.locator("#task-filters")).to_have_text(", ".join(["blur:radius=2", "edges",
                                                                      "grayscale"] * 2))
        for image in ("#input-image", "#output-image"):
            expect(page.locator(image)).to_be_visible()
            # Decoded, not a broken-image icon: the browser knows its real size.
            page.wait_for_function(
                f"() => document.querySelector('{image}').naturalWidth === 320")
        history = page.locator("#history tbody")
        expect(history.locator("tr[data-event=claimed]")).to_contain_text("attempt 1")
        expect(history.locator("tr[data-event=completed]")).to_have_count(1)
        screenshot(page, "task_page.png", full_page=True)
        page.goto(f"{server.url}/ui/tasks/no-such-task")
        expect(page.get_by_role("alert")).to_contain_text("The database has no task no-such-task")


def test_with_api_token_set_the_page_asks_for_it(page, expect, config):
    with live(config, workers=0, env={"API_TOKEN": "classroom-secret"}) as server:
        page.goto(server.url + "/")
        page.select_option("#submit-sample", SAMPLE)
        page.get_by_role("button", name="Submit the task").click()
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        page.fill("#token-input", "classroom-secret")
        page.get_by_role("button", name="Use this token").click()
        expect(page.locator("#submit-result")).to_contain_text("Accepted")
        expect(count(page, "pending")).to_have_text("1")
        # Remembered for the tab: the next action does not ask again.
        submit_on_page(page, sample=SAMPLE)
        expect(dialog).to_be_hidden()
        expect(count(page, "pending")).to_have_text("2")


def test_readable_at_phone_width_and_labelled_for_screen_readers(browser, expect, config):
    phone = new_page(browser, 390, 844)
    try:
        with live(config, workers=1) as server:
            phone.goto(server.url + "/")
            expect(phone.locator("#connection")).to_have_text("live")
            expect(phone.locator("#workers tbody tr")).to_have_count(1)
            # One column, nothing wider than the screen (tables scroll inside their panel).
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"the page is {width} px wide on a 390 px screen"
            # What a screen reader announces for each button is its accessible name.
            buttons = phone.get_by_role("button").all()
            assert len(buttons) >= 5
            for button in buttons:
                expect(button).to_have_accessible_name(re.compile(r"\w"))
            assert phone.locator("th:not([scope])").count() == 0, "every header cell has a scope"
            screenshot(phone, "dashboard_phone.png", full_page=True)
    finally:
        phone.context.close()


SCALE = 100_000


def timed_get(client: httpx.Client, url: str, runs: int = 9) -> tuple[dict, httpx.Response]:
    """The median and the fastest of ``runs`` GETs, in milliseconds, and the last response.

    The fastest says what the request costs; the median adds what the shared machine did
    meanwhile."""
    import time

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return {"median": round(statistics.median(times), 1), "fastest": round(min(times), 1)}, \
        response


def test_the_page_stays_fast_with_100000_completed_tasks(browser, expect, config, capsys):
    """Counts from counts, lists paginated: what the page loads does not grow with the queue."""
    queue, store = open_queue(config), open_store(config)
    try:
        with live(config, workers=0) as server, httpx.Client(base_url=server.url,
                                                             timeout=120) as api:
            empty_ms, empty = timed_get(api, "/dashboard/state")
            ids = fill_completed(queue, SCALE)
            fill_rows(store, ids)
            state_ms, response = timed_get(api, "/dashboard/state")
            state = response.json()
            assert state["counts"]["completed"] == SCALE
            # The state's size does not depend on how many tasks there are.
            assert len(response.content) < 2 * len(empty.content) + 2000
            first_ms, first = timed_get(api, "/tasks?limit=20")
            cursor = first.json()["next_cursor"]
            for _ in range(50):  # pages 2 to 51: the timed GET is page 52
                cursor = api.get(f"/tasks?limit=20&cursor={cursor}").json()["next_cursor"]
            deep_ms, deep = timed_get(api, f"/tasks?limit=20&cursor={cursor}")
            assert len(deep.json()["items"]) == 20
            stats_ms, _ = timed_get(api, "/stats")

            page = new_page(browser)
            try:
                page.goto(server.url + "/")
                expect(count(page, "completed")).to_have_text(f"{SCALE:,}")
                rows = page.locator("#tasks tbody tr")
                expect(rows).to_have_count(20)
                first_page = rows.first.get_attribute("data-task")
                page.get_by_role("button", name="Older tasks").click()
                expect(page.locator("#tasks-note")).to_have_text("page 2")
                expect(rows).to_have_count(20)
                assert rows.first.get_attribute("data-task") != first_page
                loaded = timings(page)
                transferred = page.evaluate("""() => performance.getEntriesByType("resource")
                    .concat(performance.getEntriesByType("navigation"))
                    .filter(e => !e.name.includes("/dashboard/stream"))
                    .reduce((sum, e) => sum + e.transferSize, 0)""")
            finally:
                page.context.close()
        figures = {
            "completed_tasks": SCALE, "dashboard_state_ms_empty": empty_ms,
            "dashboard_state_ms": state_ms, "dashboard_state_bytes": len(response.content),
            "tasks_first_page_ms": first_ms, "tasks_page_52_ms": deep_ms,
            "stats_ms_redis_and_database_counts": stats_ms,
            "page_dom_ms": loaded["dom_ms"], "page_first_state_ms": loaded["first_state_ms"],
            "page_bytes_without_the_stream": transferred,
        }
        with capsys.disabled():
            report("dashboard_100k", figures)
    finally:
        queue.clear()
        queue.close()
        store.drop_schema()
        store.close()


def test_progress_reports_move_one_bar_per_task_and_per_workflow_live(page, expect, config):
    """Reports written as any producer writes them (the README's contract): a bar per task
    and per workflow, each report changing its own bar, not redrawing the list."""
    queue = open_queue(config)
    with live(config, workers=0) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        task_id = api.post("/tasks", json={"image": SAMPLE}).json()["id"]
        wait_until(lambda: queue.get_task_info(task_id), what="the relay to send the task")
        queue.register_worker("w1")
        assert queue.get_task("w1", timeout=1).id == task_id
        page.goto(server.url + "/")
        expect(page.locator("#connection")).to_have_text("live")
        report_progress(queue, task_id, "w1", 3, 10, "rows sent")
        bar = page.locator(f'#task-progress li[data-progress-task="{task_id}"]')
        expect(bar).to_contain_text("3 / 10 rows sent")
        bar.evaluate("(item) => { item.sameElement = true; }")
        report_progress(queue, task_id, "w1", 7, 10, "rows sent")
        expect(bar).to_contain_text("7 / 10 rows sent")
        expect(bar.locator("progress")).to_have_js_property("value", 7)
        assert bar.evaluate("(item) => item.sameElement === true")  # updated, not redrawn
        expect(page.locator("#feed li[data-event=progress]")).to_have_count(0)  # bars, not lines

        for done in (1, 3):
            queue.client.xadd(queue.keys.events, {"event": "workflow_progress", "ts": time.time(),
                                                  "workflow": "wf-demo", "done": done, "total": 3})
            expect(page.locator('#workflow-progress li[data-progress-workflow="wf-demo"]')
                   ).to_contain_text(f"{done} / 3 tasks finished")
        queue.client.xadd(queue.keys.events, {"event": "workflow_completed", "ts": time.time(),
                                              "workflow": "wf-demo"})
        expect(page.locator("#workflow-progress li.completed")).to_contain_text("completed")

        page.goto(f"{server.url}/ui/tasks/{task_id}")  # the task page: its history, then live
        expect(page.locator("#task-progress-text")).to_have_text("7 / 10 rows sent")
        report_progress(queue, task_id, "w1", 10, 10, "rows sent")
        expect(page.locator("#task-progress-text")).to_have_text("10 / 10 rows sent")
        expect(page.locator("#history tr[data-event=progress]")).to_have_count(0)
        assert queue.mark_completed(task_id, {"ok": True}, worker_id="w1")
        page.goto(server.url + "/")
        expect(page.locator("#feed li[data-event=completed]")).to_have_count(1)
        expect(bar).to_have_count(0)  # a finished task has no bar


def test_a_redis_that_came_back_empty_shows_a_banner_and_uploads_show_their_own_name(
        page, expect, config):
    """A hostile file name is shown as text on both pages; after Redis lost its data the
    page says so and how many unfinished tasks the database sent again."""
    hostile = "<img src=x onerror=alert(1)>.png"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    queue = open_queue(config)
    store = open_store(config)
    with live(config, workers=0) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        image = api.post("/images", files={"file": (hostile, image_bytes(64, 48))}).json()["id"]
        task_id = api.post("/tasks", json={"image": image}).json()["id"]
        page.goto(server.url + "/")
        cell = page.locator(f'#tasks tr[data-task="{task_id}"] td[title="{image}"]')
        expect(cell).to_have_text(hostile)
        expect(page.locator("#data-lost-banner")).to_be_hidden()

        # The API remembers the epoch it saw (in its database), then Redis loses it.
        epoch_key = f"epoch:{config.queue_name}"
        wait_until(lambda: store.position(epoch_key)
                   and store.position(epoch_key) == queue.client.get(queue.keys.epoch),
                   what="the API to have seen the queue's epoch")
        queue.client.delete(queue.keys.epoch)
        banner = page.locator("#data-lost-banner")
        expect(banner).to_contain_text("Redis came back empty")
        expect(banner).to_contain_text("1 unfinished task was re-sent from the database")
        screenshot(page, "dashboard_data_lost.png")

        page.goto(f"{server.url}/ui/tasks/{task_id}")
        expect(page.locator("#task-image")).to_have_text(hostile)
        expect(page.locator("#task-image")).to_have_attribute("title", image)
        assert page.locator("img[src=x]").count() == 0 and dialogs == []
    store.close()
