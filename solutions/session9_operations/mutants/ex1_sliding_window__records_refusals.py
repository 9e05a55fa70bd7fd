"""Mistake: a refused start is recorded too, so a busy type starves itself: every
refusal pushes the window's room further away.

Rejected by:
    test_ex1_sliding_window.py::TestPart1_window::test_a_refusal_is_not_a_start

Exercise 1: a sliding-window rate limiter in one Lua script.

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

SLIDING_WINDOW_LUA = """
local key, now = KEYS[1], tonumber(ARGV[1])
local limit, window, member = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call("ZREMRANGEBYSCORE", key, "-inf", tostring(now - window))
redis.call("ZADD", key, now, member)
if redis.call("ZCARD", key) <= limit then
    return {1, tostring(now)}
end
local oldest = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
return {0, tostring(tonumber(oldest[2]) + window)}
"""


def acquire(r, key: str, limit: int, window: float, now: float, member: str) -> tuple[bool, float]:
    allowed, at = r.eval(SLIDING_WINDOW_LUA, 1, key, repr(now), limit, repr(window), member)
    return bool(int(allowed)), float(at)
