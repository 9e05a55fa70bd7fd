"""Tests for exercise 3: task progress as SSE, resumed from Last-Event-ID.

Run: pytest session6_api/exercises/test_ex3_sse_resume.py

The stream is in fakeredis (streams need no Lua); ids are given explicitly so
the tests can name them.
"""

import json

import fakeredis
import pytest

from workshop.exercises import load_exercise

ex = load_exercise(__file__)
STREAM = "ex3:events"


class BoundedReads:
    """The client, with a limit on XRANGE calls: a loop whose position never moves
    fails the test at once instead of hanging it."""

    def __init__(self, client, limit=100):
        self.client, self.calls, self.limit = client, 0, limit

    def xrange(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(f"XRANGE called {self.limit} times: does the start position "
                                 f"move past the entries already read?")
        return self.client.xrange(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture
def r():
    client = fakeredis.FakeRedis(decode_responses=True)
    # Two tasks interleaved, as on a real queue; "b" is still running.
    for entry_id, event, task in [("1-0", "enqueued", "a"), ("2-0", "enqueued", "b"),
                                  ("3-0", "claimed", "a"), ("4-0", "claimed", "b"),
                                  ("5-0", "failed", "a"), ("6-0", "retry_scheduled", "a"),
                                  ("7-0", "claimed", "a"), ("8-0", "completed", "a"),
                                  ("9-0", "requeued", "a")]:
        client.xadd(STREAM, {"event": event, "task": task}, id=entry_id)
    yield BoundedReads(client)
    client.close()


def parse(texts):
    """The (id, event) of each SSE text, checking the format on the way."""
    parsed = []
    for text in texts:
        assert text.endswith("\n\n"), f"an SSE event ends with a blank line: {text!r}"
        fields = dict(line.split(": ", 1) for line in text.strip("\n").split("\n"))
        json.loads(fields["data"])
        parsed.append((fields["id"], fields["event"]))
    return parsed


# --- Part 1 ---------------------------------------------------------------------


class TestPart1_WireFormat:
    def test_the_wire_format(self):
        text = ex.format_event("1718000000000-3", "claimed", {"task": "a", "attempt": 1})
        assert text == ('id: 1718000000000-3\nevent: claimed\n'
                        'data: {"task": "a", "attempt": 1}\n\n'), repr(text)

    def test_data_is_one_line_of_json_even_with_newlines_inside(self):
        text = ex.format_event("1-0", "failed", {"error": "line one\nline two"})
        data_lines = [line for line in text.split("\n") if line.startswith("data: ")]
        assert len(data_lines) == 1 and json.loads(data_lines[0][6:])["error"] == "line one\nline two"


# --- Part 2 ---------------------------------------------------------------------


class TestPart2_ResumePoint:
    @pytest.mark.parametrize(("header", "expected"), [
        ("5-0", "5-0"), (" 1718000000000-12 ", "1718000000000-12"), (None, "0-0"), ("", "0-0"),
        ("banana", "0-0"), ("5", "0-0"), ("-1-0", "0-0"), ("5-0; DROP TABLE", "0-0"),
    ])
    def test_resume_point(self, header, expected):
        assert ex.resume_after(header) == expected, f"resume_after({header!r})"


# --- Part 3 ---------------------------------------------------------------------


class TestPart3_TaskEvents:
    def test_from_the_start_the_whole_history_then_the_end(self, r):
        events = parse(ex.task_events(r, STREAM, "a"))
        assert events == [("1-0", "enqueued"), ("3-0", "claimed"), ("5-0", "failed"),
                          ("6-0", "retry_scheduled"), ("7-0", "claimed"), ("8-0", "completed")], (
            "expected task a's events only, ending at 'completed' (9-0 comes after the end)")

    def test_resume_continues_right_after_the_last_seen_id(self, r):
        seen = parse(ex.task_events(r, STREAM, "a"))[:3]
        resumed = parse(ex.task_events(r, STREAM, "a", after=seen[-1][0]))
        assert [i for i, _ in resumed] == ["6-0", "7-0", "8-0"], (
            f"after {seen[-1][0]} expected 6-0, 7-0, 8-0 (nothing repeated, nothing skipped); "
            f"got {resumed}")

    def test_a_running_task_gives_what_exists_so_far(self, r):
        assert parse(ex.task_events(r, STREAM, "b")) == [("2-0", "enqueued"), ("4-0", "claimed")]

    def test_more_events_than_one_page(self, r):
        for n in range(10, 260):
            r.xadd(STREAM, {"event": "heartbeat", "task": "other"}, id=f"{n}-0")
        r.xadd(STREAM, {"event": "completed", "task": "b"}, id="300-0")
        events = parse(ex.task_events(r, STREAM, "b"))
        assert events[-1] == ("300-0", "completed"), "events beyond the first XRANGE page were lost"
