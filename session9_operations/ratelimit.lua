-- Rate limits per task type, shared by every worker of a queue: a sliding-window log.
--
-- Each task type with a limit has a sorted set {q}:ratelimit:<type> of the starts in the
-- current window (member: "<task id>/<attempt>", score: the start time). A start is
-- allowed while fewer than `limit` starts lie in the last `window` seconds. The limits
-- themselves live in the hash {q}:ratelimits (type -> "limit window"), so changing one
-- changes it for every worker at once.
--
-- One script, so that two workers checking at the same moment cannot both take the
-- last slot (a read-then-write from Python would let them).
--
-- ARGV[1] = command, ARGV[2] = now (seconds, the caller's clock: tests pass a fake one)
--
-- "take": a window whose limit the caller gives (the API's per-client budget).
--   ARGV: limit, window, member. KEYS: the sorted set
--   REPLY: {"allowed", now} | {"limited", retry_at}
--
-- "acquire": may this task start now?
--   ARGV: type, member. KEYS: ratelimits, ratelimit:<type>
--   REPLY: {"allowed", now} | {"unlimited"} | {"limited", retry_at}
--
-- "acquire_or_defer": the same check at claim time; over the limit, the claimed task
--   goes back from the worker's list to the delayed set, due when the window has room,
--   and the attempt the claim counted is given back.
--   ARGV: type, member, worker, id, events_maxlen
--   KEYS: ratelimits, ratelimit:<type>, processing:<w>, task:<id>, delayed, events
--   REPLY: {"allowed", now} | {"unlimited"} | {"deferred", due} | {"not_mine"}
local command, now = ARGV[1], tonumber(ARGV[2])

-- A time as text, every digit kept. Lua's tostring keeps 14 significant digits: today's
-- epoch seconds (ten digits) would be rounded to 0.1 ms, and a start a few microseconds
-- inside the window would be dropped from it. (A number handed to redis.call as it is
-- keeps all its digits: Redis prints it itself.)
local function exact(t)
    return string.format("%.17g", t)
end

-- The sliding window itself: admit `member` into `starts_key` if it has room.
local function take(starts_key, limit, window, member)
    -- A start at exactly now - window has left: the window is [now - window, now).
    redis.call("ZREMRANGEBYSCORE", starts_key, "-inf", exact(now - window))
    if redis.call("ZCARD", starts_key) < limit then
        redis.call("ZADD", starts_key, now, member)
        redis.call("PEXPIRE", starts_key, math.ceil(window * 1000) + 1000)
        return {"allowed", ARGV[2]}
    end
    -- Full: the oldest start in the window leaves it at oldest + window.
    local oldest = redis.call("ZRANGE", starts_key, 0, 0, "WITHSCORES")
    return {"limited", exact(tonumber(oldest[2]) + window)}
end

-- The window of task type `kind`, with its limit from the hash of limits ("unlimited": none).
local function check(limits_key, starts_key, kind, member)
    local spec = redis.call("HGET", limits_key, kind)
    if not spec then return {"unlimited"} end
    local limit, window = string.match(spec, "^(%d+) ([%d%.]+)$")
    limit, window = tonumber(limit), tonumber(window)
    if not limit or not window or limit < 1 or window <= 0 then
        return {"unlimited"}  -- written by hand and wrong: the Python side refuses to write it
    end
    return take(starts_key, limit, window, member)
end

if command == "take" then
    return take(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
end

if command == "acquire" then
    return check(KEYS[1], KEYS[2], ARGV[3], ARGV[4])
end

if command == "acquire_or_defer" then
    local worker, id = ARGV[5], ARGV[6]
    local mine, task_key, delayed, events = KEYS[3], KEYS[4], KEYS[5], KEYS[6]
    if redis.call("LPOS", mine, id) == false then return {"not_mine"} end
    local verdict = check(KEYS[1], KEYS[2], ARGV[3], ARGV[4])
    if verdict[1] ~= "limited" then return verdict end
    local due = verdict[2]
    local attempts = tonumber(redis.call("HGET", task_key, "attempts")) or 0
    if attempts > 0 then attempts = attempts - 1 end  -- waiting for a slot is not an attempt
    redis.call("LREM", mine, 1, id)
    redis.call("HSET", task_key, "status", "delayed", "due_at", due, "worker_id", "",
               "attempts", attempts)
    redis.call("ZADD", delayed, due, id)
    redis.call("XADD", events, "MAXLEN", "~", ARGV[7], "*", "event", "rate_limited", "ts", ARGV[2],
               "task", id, "worker", worker, "due", due)
    return {"deferred", due}
end

return redis.error_reply("ratelimit.lua: unknown command " .. tostring(command))
