"""The operations page (``GET /operations/``) in a real browser: session 6's browser
fixtures (the system Chromium, driven by Playwright), reused by import.

Each test starts ``python -m session9_operations serve`` on a free port, on a queue of
its own, with no workers: the test writes the state it wants in Redis, then checks
what a person sees. Waits are Playwright's ``expect`` (bounded by session 6's
WAIT_MS), never a fixed sleep. Under CI=true no Chromium fails these tests.
"""

from __future__ import annotations

import re
import sys
import uuid

import pytest

from session5_recovery.workers import (
    HandlerRegistry,
    PermanentTaskError,
    RecoverySettings,
    TransientTaskError,
)
from session6_api.tests import test_dashboard_browser as dashboard_browser
from session9_operations.operations_queue import OperationsQueue
from session9_operations.outbox import owe_notification
from session9_operations.ratelimit import RateLimit, RateLimiter
from session9_operations.webhooks import ALLOWED_HOSTS_ENV, DELIVERY_TYPE
from session9_operations.worker import OperationsWorker
from workshop.paths import OUTPUT_DIR

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(600)]

# Session 6's browser fixtures, under the same names (pytest finds fixtures by name
# in the module): the system Chromium, a page, Playwright's expect, the server's config.
browser = dashboard_browser.browser
page = dashboard_browser.page
expect = dashboard_browser.expect
config = dashboard_browser.config
HOOK = "http://127.0.0.1:17801/hook"
SHOTS = OUTPUT_DIR / "session9"


@pytest.fixture
def table_prefix() -> str:
    """The tables of session 6's database this test's server creates (config drops them)."""
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def server(config):
    """Session 9's server (session 6's app, wrapped) on the test's queue, no workers."""
    server = dashboard_browser.live(config)
    server.args = [sys.executable, "-m", "session9_operations", "--redis-url", config.redis_url,
                   "--queue", config.queue_name, "serve", "--port", str(server.port),
                   "--budget", "100000/m"]  # the page polls: no budget gets in the way here
    server.env["DATABASE_URL"] = config.database_url
    with server:
        yield server


@pytest.fixture
def queue(config, monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    # A live worker stays live for the whole test: an hour of heartbeat.
    settings = RecoverySettings(heartbeat_interval=60, heartbeat_ttl=3600, max_attempts=3)
    with OperationsQueue.connect(config.redis_url, queue_name=config.queue_name,
                                 settings=settings) as queue:
        yield queue


def deliveries_in_every_state(queue) -> None:
    """One delivery accepted, one waiting to retry (the receiver answered 503), one
    dead-lettered (the receiver answered 410), as a worker leaves them."""
    answers = {}
    registry = HandlerRegistry()

    @registry.register("ok")
    def ok(data, context):
        return {}

    @registry.register(DELIVERY_TYPE)
    def deliver(data, context):  # stands in for the POST
        answer = answers[data["payload"]["task_id"]]
        if answer == 503:
            raise TransientTaskError("receiver answered 503: will retry")
        if answer == 410:
            raise PermanentTaskError("receiver answered 410: not retried")
        return {"status": answer}

    for answer in (200, 503, 410):
        answers[queue.add_task({"type": "ok", "webhook_url": HOOK})] = answer
    worker = OperationsWorker("w-setup", queue, handlers=registry, log=None)
    queue.register_worker(worker.worker_id)
    while (task := queue.get_task(worker.worker_id, timeout=0)) is not None:
        worker.process(task)
    queue.deregister_worker(worker.worker_id)


def console_errors(page) -> list[str]:
    """What the browser reports as errors from now on (a script the CSP blocked, a failed call)."""
    errors: list[str] = []

    def on_console(message) -> None:  # (Chromium asks for /favicon.ico by itself: a 404 we allow)
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def alert_row(page, alert: str):
    return page.locator(f'#alerts tr[data-alert="{alert}"]')


def test_the_page_shows_the_conditions_that_fire_and_their_values(server, queue, page, expect):
    deliveries_in_every_state(queue)
    limiter = RateLimiter(queue)
    limiter.set("email", RateLimit(10, 60.0))
    for n in range(3):
        assert limiter.acquire("email", f"sent-{n}").may_start
    # A task that has waited ten minutes, and no live worker: both conditions hold.
    waiting = queue.add_task({"type": "ok", "webhook_url": HOOK})
    queue.client.hincrbyfloat(queue.keys.task(waiting), "created_at", -600)
    owe_notification(queue, [waiting])  # as a worker does before running it

    errors = console_errors(page)
    page.goto(server.url + "/operations/")
    expect(page.locator("#alerts-summary")).to_have_text(
        "Firing: OldestPendingTaskTooOld, NoLiveWorker")
    oldest = alert_row(page, "OldestPendingTaskTooOld")
    expect(oldest.locator(".state")).to_have_text("FIRING")
    expect(oldest.locator(".value")).to_have_text(re.compile(r"^6\d\d\.\d s$"))
    expect(oldest.locator(".threshold")).to_have_text("above 300 s")
    nobody = alert_row(page, "NoLiveWorker")
    expect(nobody.locator(".state")).to_have_text("FIRING")
    expect(nobody.locator(".value")).to_have_text("0")
    expect(nobody.locator(".detail")).to_have_text("0 live workers, 1 tasks pending")
    expect(page.locator('#limits tr[data-type="email"]')).to_contain_text("3 of 10")
    expect(page.locator('#limits tr[data-type="email"]')).to_contain_text("10 per 60 s")
    expect(page.locator("#limits-empty")).to_be_hidden()
    for state, shown in (("delivered", "1"), ("retrying", "1"), ("dead_lettered", "1"),
                         ("owed", "1")):
        expect(page.locator(f"#webhooks-{state}")).to_have_text(shown)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "operations_1280x720.png"))

    # A worker comes: the page follows on its next refresh, without a reload.
    queue.register_worker("w-late")
    expect(nobody.locator(".state")).to_have_text("quiet")
    expect(page.locator("#alerts-summary")).to_have_text("Firing: OldestPendingTaskTooOld")
    assert errors == [], "the page runs under session 6's Content-Security-Policy, cleanly"


def test_the_page_is_quiet_when_nothing_holds(server, queue, page, expect):
    queue.add_task({"type": "ok"})  # a fresh task, and a live worker to take it
    queue.register_worker("w-alive")

    errors = console_errors(page)
    page.goto(server.url + "/operations/")
    expect(page.locator("#alerts-summary")).to_have_text("All quiet")
    for alert in ("OldestPendingTaskTooOld", "NoLiveWorker"):
        expect(alert_row(page, alert).locator(".state")).to_have_text("quiet")
    expect(alert_row(page, "NoLiveWorker").locator(".detail")).to_have_text(
        "1 live workers, 1 tasks pending")
    expect(page.locator("#alerts tr.firing")).to_have_count(0)
    expect(page.locator("#limits-empty")).to_be_visible()
    for state in ("delivered", "retrying", "dead_lettered", "owed"):
        expect(page.locator(f"#webhooks-{state}")).to_have_text("0")
    expect(page.locator("#refreshed")).to_contain_text("updated")
    assert errors == []
    page.get_by_role("link", name="Queue dashboard").click()
    expect(page).to_have_title(re.compile("Queue dashboard"))
