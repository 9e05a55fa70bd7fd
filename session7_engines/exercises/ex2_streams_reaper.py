"""Exercise 2: the Streams reaper: XAUTOCLAIM, the delivery count and a dead-letter stream.

In a Redis Stream consumer group, an entry read with ``XREADGROUP`` stays in the
group's pending entries list (PEL) under the consumer that read it, until that
consumer acks it (``XACK``). If the consumer dies, the entry sits there. The
reaper is whoever notices: it takes over entries idle longer than a lease with
``XAUTOCLAIM``, and each take-over adds one to the entry's delivery count, which
is therefore the number of attempts. Past ``max_deliveries`` the entry is not run
again: it goes to a dead-letter stream, so a poison task cannot loop forever.

- Part 1: ``reap(r, stream, group, consumer, min_idle_ms, count)``: take over, for
  ``consumer``, up to ``count`` entries idle at least ``min_idle_ms`` (scanning the
  whole pending list from its start), and return ``[(entry_id, fields, deliveries),
  ...]`` where ``deliveries`` is the entry's delivery count *after* the take-over.
  The command that takes entries over does not report their counts: another command
  on the pending list does.
- Part 2: ``dead_letter(r, stream, group, dead_stream, entry_id, fields, reason)``:
  the entry's fields plus ``reason`` end up in ``dead_stream`` and the entry is acked
  in ``stream``: both or neither, even if the reaper dies between the two writes.
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
    # TODO (part 1): the idle entries become this consumer's, each reported with its
    # delivery count *after* the take-over (that count is the number of attempts).
    raise NotImplementedError("Exercise 2, part 1: take over idle entries with XAUTOCLAIM "
                              "(hint: make hint SESSION=7 EXERCISE=2)")


# --- Part 2 -------------------------------------------------------------------


def dead_letter(r: Any, stream: str, group: str, dead_stream: str, entry_id: str,
                fields: dict[str, str], reason: str) -> None:
    """Move one entry to the dead-letter stream: added there and acked here, atomically."""
    # TODO (part 2): the entry is in the dead stream and acked here, both or neither.
    raise NotImplementedError("Exercise 2, part 2: dead-letter an entry atomically "
                              "(hint: make hint SESSION=7 EXERCISE=2)")


# --- Part 3 -------------------------------------------------------------------


def reap_or_bury(r: Any, stream: str, group: str, consumer: str, dead_stream: str,
                 min_idle_ms: int, max_deliveries: int,
                 count: int = 10) -> tuple[list[Reaped], list[str]]:
    """Reap; bury what was delivered too often; return what is left to run and what was buried."""
    # TODO (part 3): a poison entry is buried once it has been delivered more than
    # max_deliveries times, and never comes back; every other reaped entry is returned.
    raise NotImplementedError("Exercise 2, part 3: reap and bury the poison "
                              "(hint: make hint SESSION=7 EXERCISE=2)")
