"""Mistake: XREADGROUP with id 0 re-reads only the reaper's own pending entries: a dead consumer's are never taken.

Rejected by:
    test_ex2_streams_reaper.py::TestPart1_reap::test_takes_over_a_dead_consumers_entry_and_counts_the_delivery
    test_ex2_streams_reaper.py::TestPart3_reap_or_bury::test_a_poison_entry_runs_max_deliveries_times_then_is_buried
    test_ex2_streams_reaper.py::TestPart3_reap_or_bury::test_healthy_entries_are_returned_to_run

Exercise 2: the Streams reaper: XAUTOCLAIM, the delivery count and a dead-letter stream.

In a Redis Stream consumer group, an entry read with ``XREADGROUP`` stays in the
group's pending entries list (PEL) under the consumer that read it, until that
consumer acks it (``XACK``). If the consumer dies, the entry sits there. The
reaper is whoever notices: it takes over entries idle longer than a lease with
``XAUTOCLAIM``, and each take-over adds one to the entry's delivery count, which
is therefore the number of attempts. Past ``max_deliveries`` the entry is not run
again: it goes to a dead-letter stream, so a poison task cannot loop forever.

- Part 1: ``reap(r, stream, group, consumer, min_idle_ms, count)``: take over up to
  ``count`` entries idle at least ``min_idle_ms`` (``r.xautoclaim``, from ``"0-0"``)
  for ``consumer``, and return ``[(entry_id, fields, deliveries), ...]`` where
  ``deliveries`` is the entry's delivery count after the take-over
  (``r.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)``).
- Part 2: ``dead_letter(r, stream, group, dead_stream, entry_id, fields, reason)``:
  add the entry's fields plus ``reason`` to ``dead_stream`` and ack it in ``stream``,
  both or neither (a ``MULTI``/``EXEC`` transaction: ``r.pipeline(transaction=True)``).
- Part 3: ``reap_or_bury(r, stream, group, consumer, dead_stream, min_idle_ms,
  max_deliveries, count=10)``: reap, dead-letter every entry delivered more than
  ``max_deliveries`` times (reason ``"delivered N times"``), and return
  ``(runnable, buried_ids)``: the reaped entries still worth running, and the ids buried.

The client is made with ``decode_responses=True``.
"""

from __future__ import annotations

from typing import Any

Reaped = tuple[str, dict[str, str], int]


# --- Part 1 -------------------------------------------------------------------


def reap(r: Any, stream: str, group: str, consumer: str, min_idle_ms: int,
         count: int = 10) -> list[Reaped]:
    """Take over stale entries for ``consumer``; each with its delivery count."""
    reply = r.xreadgroup(group, consumer, {stream: "0"}, count=count)
    claimed = reply[0][1] if reply else []
    reaped = []
    for entry_id, fields in claimed:
        info = r.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        reaped.append((entry_id, fields, int(info[0]["times_delivered"])))
    return reaped


# --- Part 2 -------------------------------------------------------------------


def dead_letter(r: Any, stream: str, group: str, dead_stream: str, entry_id: str,
                fields: dict[str, str], reason: str) -> None:
    """Move one entry to the dead-letter stream: added there and acked here, atomically."""
    with r.pipeline(transaction=True) as pipe:
        pipe.xadd(dead_stream, {**fields, "reason": reason})
        pipe.xack(stream, group, entry_id)
        pipe.execute()


# --- Part 3 -------------------------------------------------------------------


def reap_or_bury(r: Any, stream: str, group: str, consumer: str, dead_stream: str,
                 min_idle_ms: int, max_deliveries: int,
                 count: int = 10) -> tuple[list[Reaped], list[str]]:
    """Reap; bury what was delivered too often; return what is left to run and what was buried."""
    runnable, buried = [], []
    for entry_id, fields, deliveries in reap(r, stream, group, consumer, min_idle_ms, count):
        if deliveries > max_deliveries:
            dead_letter(r, stream, group, dead_stream, entry_id, fields,
                        f"delivered {deliveries} times")
            buried.append(entry_id)
        else:
            runnable.append((entry_id, fields, deliveries))
    return runnable, buried
