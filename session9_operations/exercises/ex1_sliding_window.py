"""Exercise 1: a sliding-window rate limiter in one Lua script.

"At most LIMIT starts in any WINDOW seconds", shared by every worker: the record
of recent starts is a sorted set in Redis (member: who started, score: when), and
the check and the record must be one atomic step, or two workers asking at the
same moment both take the last slot.

- Part 1: ``SLIDING_WINDOW_LUA``: KEYS[1] the sorted set; ARGV: now, limit,
  window, member. Forget the starts that have left the window (score <= now -
  window); below the limit, record this start and reply ``{1, now}``; at the
  limit, record nothing and reply ``{0, retry_at}``, when the oldest start leaves.
- Part 2: ``acquire(r, key, limit, window, now, member)`` runs the script and
  returns ``(allowed, at)``: a bool and the float it replied.
"""

from __future__ import annotations

# TODO Part 1: the script: check and record in one atomic step. Forget the starts that
# have left the window (a start exactly one window old no longer counts); below the limit,
# record this start and reply {1, now}; at the limit, record nothing (a refusal is not a
# start) and reply {0, the time the oldest start leaves the window}. A number a script
# returns is cut to an integer: the time must leave it as text.
SLIDING_WINDOW_LUA = """
return redis.error_reply("Exercise 1, part 1: write the sliding-window script "
    .. "(hint: make hint SESSION=9 EXERCISE=1)")
"""


def acquire(r, key: str, limit: int, window: float, now: float, member: str) -> tuple[bool, float]:
    # TODO Part 2: run SLIDING_WINDOW_LUA on one key with its four arguments, in the order
    # the script reads them, and return (allowed as a bool, the time as a float).
    raise NotImplementedError("Exercise 1, part 2: run the script and read its reply "
                              "(hint: make hint SESSION=9 EXERCISE=1)")
