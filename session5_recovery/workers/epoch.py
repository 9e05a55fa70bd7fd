"""Notice when the Redis server lost the queue's data, and say so in plain words.

A Redis without persistence that restarts comes back empty; so does a server after
FLUSHALL, or a failover to a replica that had nothing. Every key is gone, and the
queue looks exactly like a brand-new one: ``stats`` would report "0 == enqueued 0"
and exit happily while the tasks accepted before are lost, and workers would only
see their completions refused as if they had been taken for dead.

So the queue carries an *epoch*: a random id in ``{q}:epoch``, written when the
queue is first used (by a producer or a worker) and never changed. A worker and
the monitor remember it; if it is gone or different, the data was lost. The one
that notices writes ``{q}:data_lost`` (what it saw, when) and a ``data_lost``
event, so ``stats`` and everyone else can say so too, and starts a new epoch.

What it cannot do: bring the tasks back (turn on AOF persistence for that; see
the README), or notice a loss when nothing that remembered the epoch was
connected (a server restarted empty with no worker or monitor running looks new).
"""

from __future__ import annotations

import uuid
from typing import Any

import redis

# KEYS: epoch, data_lost, events. ARGV: new epoch, expected epoch ("" if none yet), now,
# who, events maxlen. Returns {current epoch, verdict}: "same" (as expected, or first look
# at an existing epoch), "changed" (another epoch than expected: someone renewed it after a
# loss), "new" (none yet and none expected: written now) or "lost" (none, but one was
# expected: written now, with data_lost and an event).
_CHECK = """
local current = redis.call("GET", KEYS[1])
if current and (ARGV[2] == "" or current == ARGV[2]) then return {current, "same"} end
if current then return {current, "changed"} end
redis.call("SET", KEYS[1], ARGV[1])
if ARGV[2] == "" then return {ARGV[1], "new"} end
redis.call("HSET", KEYS[2], "noticed_at", ARGV[3], "noticed_by", ARGV[4],
           "old_epoch", ARGV[2], "new_epoch", ARGV[1])
redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[5], "*", "event", "data_lost", "ts", ARGV[3],
           "worker", ARGV[4], "old_epoch", ARGV[2])
return {ARGV[1], "lost"}
"""

DATA_LOST_MESSAGE = (
    "the Redis server lost this queue's data: its epoch key is gone, so the server "
    "restarted without persistence, was flushed, or failed over to an empty replica. "
    "Every task accepted before then is gone (it cannot be recovered from Redis; "
    "re-enqueue from your source of truth), and results of tasks in flight cannot be "
    "recorded. Turn on AOF persistence (appendonly yes) so a restart keeps the queue")


class QueueEpoch:
    """The epoch as one client knows it; ``check()`` compares it with the server's."""

    def __init__(self, queue: Any, who: str) -> None:
        self.queue = queue
        self.who = who
        self.known: str | None = None
        self._script = queue.client.register_script(_CHECK)

    def check(self) -> str:
        """Compare with the server; the verdict, one of:

        - "new": the queue had no epoch and we knew none (first use): written now;
        - "same": the server's epoch is the one we know (or the first we learn);
        - "lost": the epoch we knew is gone: we noticed first, wrote data_lost and a
          new epoch;
        - "changed": the server holds another epoch (someone else noticed the loss first).
        """
        keys = self.queue.keys
        reply = self._script(keys=[keys.epoch, keys.data_lost, keys.events],
                             args=[uuid.uuid4().hex, self.known or "", repr(self.queue.settings.clock()),
                                   self.who, self.queue.settings.events_maxlen])
        current, verdict = reply
        self.known = current
        return verdict


def data_lost_note(client: redis.Redis, keys: Any) -> str | None:
    """A line for ``stats`` and the monitor if someone noticed a loss, else None.

    ``client`` is the queue's, which decodes replies.
    """
    info = client.hgetall(keys.data_lost)
    if not info:
        return None
    return (f"DATA LOST: {info.get('noticed_by', '?')} noticed at {info.get('noticed_at', '?')} "
            f"that {DATA_LOST_MESSAGE}. Once dealt with, acknowledge it: "
            f"redis-cli DEL '{keys.data_lost}'")
