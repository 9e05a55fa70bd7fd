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

# TODO Part 1: the script. Drop the starts that left the window (score <= now - window);
# below the limit, record this start (ZADD) and reply {1, now}; at the limit, record
# nothing and reply {0, the time the oldest start leaves the window}. Numbers leave a
# script as text (tostring) or they are cut to integers.
SLIDING_WINDOW_LUA = """
return redis.error_reply("Exercise 1, part 1: write the sliding-window script")
"""


def acquire(r, key: str, limit: int, window: float, now: float, member: str) -> tuple[bool, float]:
    # TODO Part 2: run SLIDING_WINDOW_LUA with one key and its four arguments (send the
    # floats with repr() so no digit is lost) and return (allowed as a bool, the float).
    raise NotImplementedError("Exercise 1, part 2: run the script and read its reply")
