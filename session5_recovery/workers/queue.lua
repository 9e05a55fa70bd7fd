-- Every state change of a session-5 task queue, as one atomic Lua script.
--
-- Redis runs a script from start to end without running any other command in
-- between, so no worker, reaper or monitor can ever see a task half-moved. But a
-- script that raises an error half-way does NOT roll back what it already wrote.
-- So every command below follows one rule:
--
--   1. checks and reads first (anything that can fail fails here, before any write);
--   2. then the writes, none of which can fail on data the caller chose
--      (nothing whose size the caller chooses is unpack()ed).
--
-- The Python side (redis_task_queue.py) loads this file once and calls it with a
-- command name:
--
--   EVALSHA <sha> <numkeys> <the keys the command touches> <command> <now> <events_maxlen> <prefix> <args...>
--
--   now            the caller's clock (seconds, a float): written into timestamps,
--                  events and the delayed ZSET. Tests pass a fake clock here.
--   events_maxlen  the event stream is trimmed to about this many entries
--   prefix         "{q}:", what every key of the queue starts with
--
-- Keys. Every key of queue q starts with the hash tag {q}, so they all live in the
-- same Redis Cluster slot. Each command receives in KEYS the keys it touches (the
-- list per command is COMMAND_KEYS in redis_task_queue.py), and finds them by name:
--
--   {q}:pending:high     LIST   ids waiting, high priority (LPUSH in, taken at the right: FIFO)
--   {q}:pending          LIST   ids waiting, normal priority
--   {q}:pending:low      LIST   ids waiting, low priority
--   {q}:wake             LIST   wake-up tokens: an idle worker blocks on it (BLPOP)
--   {q}:paused           STRING exists while the queue is paused
--   {q}:delayed          ZSET   id -> time it is due (a retry, or a task added with a delay)
--   {q}:completed        LIST   ids of completed tasks (oldest at the left)
--   {q}:dlq              LIST   ids of dead-lettered tasks (newest at the left)
--   {q}:cancelled        LIST   ids of cancelled tasks
--   {q}:tasks            SET    every id the queue holds (the "enqueued" registry)
--   {q}:workers          ZSET   worker id -> last time it said it was alive (the registry)
--   {q}:events           STREAM what happened, one entry per event
--   {q}:expired          STRING how many finished tasks were deleted by retention ("expire")
--   {q}:processing:<w>   LIST   ids worker <w> has claimed: its in-flight tasks
--   {q}:worker:<w>       STRING worker <w>'s heartbeat; it expires unless refreshed (PX ttl)
--   {q}:task:<id>        HASH   the task: data, status, attempts, timestamps, result (one
--                               JSON field), error history
--
-- Commands that discover ids themselves (claim, reap, promote, purge, expire, counts) build
-- those ids' task keys (and the registered workers' list and heartbeat keys) from
-- the same {q} prefix, so every key stays in the queue's slot.
--
-- Invariant kept by every command: each id in {q}:tasks is in exactly one of the
-- three pending lists, one processing list, delayed, completed, dlq or cancelled.
--
-- Every command replies with a list whose first element is the outcome:
-- {outcome, ...}. Each header says: ARGS (ARGV[5] on), KEYS (those beyond the
-- command's named keys in COMMAND_KEYS: a worker's list and heartbeat, task keys),
-- REPLY and the status move ("Status: a -> b"); a test checks those moves against
-- the table in task.py, so the table and this script cannot disagree.

local command, now, events_maxlen, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

-- The keys by name: K["pending:high"], K.events, ...; the one worker's list and
-- heartbeat as MINE and BEAT; the task keys, in order, as TASK_KEYS.
local K, TASK_KEYS, MINE, BEAT = {}, {}, nil, nil
for _, key in ipairs(KEYS) do
    local name = string.sub(key, #prefix + 1)
    if string.sub(name, 1, 5) == "task:" then TASK_KEYS[#TASK_KEYS + 1] = key
    elseif string.sub(name, 1, 11) == "processing:" then MINE = key
    elseif string.sub(name, 1, 7) == "worker:" then BEAT = key
    else K[name] = key end
end
local PENDING_HIGH, PENDING, PENDING_LOW = K["pending:high"], K.pending, K["pending:low"]
local WAKE, PAUSED, DELAYED, COMPLETED = K.wake, K.paused, K.delayed, K.completed
local DLQ, CANCELLED, TASKS, WORKERS, EVENTS = K.dlq, K.cancelled, K.tasks, K.workers, K.events
local EXPIRED = K.expired
local PENDING_LISTS = {PENDING_HIGH, PENDING, PENDING_LOW}  -- claimed in this order
local PRIORITY_LIST = {high = PENDING_HIGH, normal = PENDING, low = PENDING_LOW}
local function task_key(id) return prefix .. "task:" .. id end
local function processing_key(w) return prefix .. "processing:" .. w end
local function heartbeat_key(w) return prefix .. "worker:" .. w end

-- Append one event to the stream; `fields` is a flat list {name, value, ...}.
local function emit(event, fields)
    local entry = {"XADD", EVENTS, "MAXLEN", "~", events_maxlen, "*", "event", event, "ts", now}
    for i = 1, #fields do entry[#entry + 1] = fields[i] end
    redis.call(unpack(entry))  -- our own fields only: never longer than a dozen
end

local function pending_count()
    return redis.call("LLEN", PENDING_HIGH) + redis.call("LLEN", PENDING) + redis.call("LLEN", PENDING_LOW)
end

-- Wake-up tokens: one per id made claimable, never more tokens than pending ids, so
-- a blocked worker wakes for work of any priority and an idle one does not spin.
local function trim_wake()
    local waiting = pending_count()
    if waiting == 0 then
        redis.call("DEL", WAKE)  -- (LTRIM to 0 .. -1 would keep everything)
    else
        redis.call("LTRIM", WAKE, 0, waiting - 1)
    end
end

-- At most this many tokens per call: they are for the workers blocked right now, and a
-- worker that wakes claims as many tasks as it can; one token per pending id of a
-- million-task queue (a resume) would make one script run for seconds.
local MAX_WAKE = 1000
local function wake(n)
    if n <= 0 then return end
    local tokens = {}
    for i = 1, math.min(n, MAX_WAKE) do tokens[i] = "1" end
    redis.call("LPUSH", WAKE, unpack(tokens))  -- one command; at most MAX_WAKE values
    trim_wake()
end

-- Make a task claimable again, with `fields` (our own few) written too: at the head
-- of its priority's line (RPUSH: the end claims take from) when it was interrupted, at
-- the tail (LPUSH, like a new task) when it comes back later (a retry, a replay). The
-- caller wakes the workers.
local function back_to_pending(key, id, priority, fields, at_head)
    redis.call("HSET", key, "status", "pending", "worker_id", "", unpack(fields))
    redis.call(at_head and "RPUSH" or "LPUSH", PRIORITY_LIST[priority] or PENDING, id)
end

-- Dead-letter a task: its hash says why (plus `fields`, our own few), its id goes to the
-- head of the DLQ, and an event says so. `key` nil: the id's key holds something that
-- is not a hash, left as it is for a person; only the id is parked.
local function dead_letter(key, id, worker, attempt, reason, fields)
    if key then
        local write = {"HSET", key, "status", "dead_lettered", "reason", reason,
                       "finished_at", now, "dead_at", now}
        for _, v in ipairs(fields or {}) do write[#write + 1] = v end
        redis.call(unpack(write))  -- our own fields only: never more than a dozen
    end
    redis.call("LPUSH", DLQ, id)
    emit("dead_lettered", {"task", id, "worker", worker, "attempt", attempt, "reason", reason})
end

-- Read what the finishing commands need, all at once (a read: errors, if the hash
-- has the wrong type, before anything is written).
local function read_task(key)
    return redis.call("HMGET", key, "status", "worker_id", "attempts", "max_attempts",
                      "history", "priority", "finished_by")
end

-- Is this list entry a task id we could have made? (text, no spaces or glob characters)
local function plausible_id(entry)
    return #entry > 0 and #entry <= 200 and not string.find(entry, "[^%w%-%._:@]")
end

local function to_hex(s)
    return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end))
end

-- Did the server delete keys on its own to make room? (INFO is readable from a script,
-- CONFIG GET is not.) Then a task record that vanished was evicted, not forgotten.
local function eviction_note()
    local policy = string.match(redis.call("INFO", "memory"), "maxmemory_policy:([%w%-]+)") or "?"
    local evicted = tonumber(string.match(redis.call("INFO", "stats"), "evicted_keys:(%d+)")) or 0
    if evicted > 0 or (policy ~= "noeviction" and policy ~= "?") then
        return "LOST TO EVICTION: the server's maxmemory-policy is " .. policy .. " and it has " ..
               "evicted " .. evicted .. " key(s) to make room; a queue needs noeviction"
    end
    return nil
end

-- Fields a script counts with: a hash edited by hand may hold "abc" there. The first
-- one that is not a whole number, and its value; nil if all are fine (or absent).
local COUNTED_FIELDS = {{"attempts", 3}, {"max_attempts", 4}, {"history", 6}, {"replays", 8}}
local function malformed_field(fields)
    for _, f in ipairs(COUNTED_FIELDS) do
        local v = fields[f[2]]
        if v and not string.match(v, "^%d+$") then return f[1], v end
    end
    return nil
end

-- An entry with no task behind it (pushed into a pending list by hand?), or a task
-- key holding something other than a hash: move it out of `source` (a list, or the
-- delayed ZSET) into the DLQ with
-- a record saying so, instead of failing on it again and again. Entries that are not
-- plausible ids (bytes that are not text) are recorded under a new id, with their bytes.
local function quarantine(entry, source, worker)
    if source == DELAYED then
        redis.call("ZREM", source, entry)
    else
        redis.call("LREM", source, -1, entry)  -- from the right: the end claims take
    end
    local id, data, reason = entry, "null", nil
    local kind = redis.call("TYPE", task_key(entry))["ok"]
    if not plausible_id(entry) then
        id = "bad-" .. redis.sha1hex(entry)
        data = cjson.encode({raw_hex = to_hex(string.sub(entry, 1, 200))})
        reason = "the pending list held " .. #entry .. " bytes that are not a task id " ..
                 "(not UTF-8 text, or characters outside letters, digits and - . _ : @); " ..
                 "pushed by hand? Stored here as task " .. id
    elseif kind ~= "none" then
        -- the key is taken by something else: park the id itself, leave the key for a person
        redis.call("SADD", TASKS, id)
        dead_letter(nil, id, worker, 0, "the task key " .. task_key(id) .. " holds a " ..
                    kind .. ", not a hash")
        return
    else
        reason = "no task record " .. task_key(id) .. " for this id (" .. (eviction_note() or
                 ("was it pushed into " .. PENDING .. " by hand?")) .. ")"
    end
    redis.call("SADD", TASKS, id)
    dead_letter(task_key(id), id, worker, 0, reason, {"id", id, "type", "unknown", "data", data,
                "attempts", 0, "max_attempts", 0, "created_at", now, "history", 0})
end

-- One more entry of error history (fields error:1, error:2, ...), given the count read before.
local function history_fields(history, entry)
    local n = (tonumber(history) or 0) + 1
    return {"history", n, "error:" .. n, entry}
end


-- The reads of a claim: the oldest `max_tasks` ids of the highest priorities, and what
-- each is (nil fields: no task behind it; finished: its id was pushed in again by hand;
-- bad_field: a counter that is not a number).
local function claim_candidates(max_tasks)
    local picked = {}
    for _, list in ipairs(PENDING_LISTS) do
        local want = max_tasks - #picked
        if want <= 0 then break end
        local ids = redis.call("LRANGE", list, -want, -1)  -- the oldest `want`, newest first
        for i = #ids, 1, -1 do
            local p = {id = ids[i], list = list}
            if plausible_id(p.id) then
                -- pcall: a key of the wrong type is an error reply here, not a failed script
                local f = redis.pcall("HMGET", task_key(p.id), "type", "data", "attempts",
                                      "max_attempts", "id", "history", "status", "replays")
                if not f.err and (f[1] or f[2] or f[3] or f[4] or f[5]) then
                    p.fields = f
                    if f[7] == "completed" or f[7] == "dead_lettered" or f[7] == "cancelled" then
                        p.finished = f[7]
                    end
                    p.bad_field, p.bad_value = malformed_field(f)
                end
            end
            picked[#picked + 1] = p
        end
    end
    return picked
end

-- The write of a claim for one candidate `p`; a claimed task is appended to `reply`.
local function claim_one(p, worker, reply)
    if p.fields == nil then
        quarantine(p.id, p.list, worker)
    elseif p.finished then
        redis.call("LREM", p.list, -1, p.id)  -- the stray copy; the task stays where it is
        emit("claim_refused", {"task", p.id, "worker", worker, "status", p.finished, "reason",
                               "already " .. p.finished .. "; its id was pushed into pending again"})
    elseif p.bad_field then
        -- Counters reset to numbers so later commands can read them; the bad value is kept.
        local reason = "malformed task record: field '" .. p.bad_field .. "' is " ..
                       string.format("%q", string.sub(p.bad_value, 1, 40)) ..
                       ", not a whole number (was the hash edited by hand?)"
        redis.call("LREM", p.list, -1, p.id)
        dead_letter(task_key(p.id), p.id, worker, 0, reason, {"attempts", 0, "max_attempts", 0,
                    "history", 0, "replays", 0, "bad_" .. p.bad_field, p.bad_value})
    else
        redis.call("LMOVE", p.list, MINE, "RIGHT", "LEFT")
        local attempt = (tonumber(p.fields[3]) or 0) + 1  -- counted at the claim
        redis.call("HSET", task_key(p.id), "status", "processing", "worker_id", worker,
                   "started_at", now, "attempts", attempt)
        emit("claimed", {"task", p.id, "worker", worker, "attempt", attempt})
        for _, v in ipairs({p.id, p.fields[1] or "image", p.fields[2] or "", attempt,
                            p.fields[4] or "0"}) do
            reply[#reply + 1] = v
        end
    end
end

-- Claim up to max_tasks for `worker` into MINE (see the "claim" command): the reads
-- first, then the moves. Used by "claim", and by "complete" to hand out the next task.
local function claim_batch(worker, max_tasks, ttl_ms)
    if redis.call("EXISTS", PAUSED) == 1 then
        return {"paused"}
    end
    local picked = claim_candidates(max_tasks)
    -- A claimer is alive (its heartbeat's TTL starts again: a client that claims
    -- without a heartbeat thread stays alive while it keeps claiming) and registered,
    -- or the reaper could not find what it holds. The registry is written only when
    -- the heartbeat was missing (a first claim, a worker back from a long pause): a
    -- live heartbeat key means a registered worker, and the thread refreshes the rest.
    if not redis.call("SET", BEAT, now, "PX", ttl_ms, "GET") then
        redis.call("ZADD", WORKERS, now, worker)
    end
    local reply = {"claimed"}
    for _, p in ipairs(picked) do claim_one(p, worker, reply) end
    -- Every picked id left pending, so one token each goes too (never more tokens than
    -- pending ids); a claim that found fewer than it asked for emptied every list.
    if #picked < max_tasks then
        redis.call("DEL", WAKE)
    else
        redis.call("LTRIM", WAKE, #picked, -1)
    end
    if #picked == 0 then
        return {"empty"}
    end
    return reply
end


-- Record the success of attempt `attempt` of task `id` (hash `key`, read as `t` by
-- read_task), fenced: only if the id is still in THIS worker's list (MINE) and this is
-- the attempt it claimed. Returns "completed", "already" (a resend of a completion
-- that got through) or "refused" (no longer ours: nothing is written).
local function complete_one(worker, id, attempt, result, key, t, result_ttl_ms)
    local status, attempts, finished_by = t[1], t[3], t[7]
    -- The fence: LREM removes the id only if it is in THIS worker's list (a removal
    -- of nothing writes nothing), and only for the attempt this worker claimed.
    if attempts ~= attempt or redis.call("LREM", MINE, 1, id) == 0 then
        if status == "completed" and finished_by == worker .. "/" .. attempt then
            return "already"  -- our earlier call got through; its reply was lost
        end
        emit("completion_refused", {"task", id, "worker", worker})
        return "refused"
    end
    redis.call("HSET", key, "status", "completed", "finished_at", now, "worker_id", worker,
               "finished_by", worker .. "/" .. attempt, "result", result)
    redis.call("RPUSH", COMPLETED, id)
    if result_ttl_ms > 0 then redis.call("PEXPIRE", key, result_ttl_ms) end
    emit("completed", {"task", id, "worker", worker, "attempt", attempt})
    return "completed"
end


-- The reaper's move for one task `id` of the dead `worker`'s `list`: back to pending
-- with the lost attempt counted, or to the DLQ if that was its last. Returns which.
local function recover(id, list, worker)
    local key = task_key(id)
    if not plausible_id(id) or redis.call("TYPE", key)["ok"] ~= "hash" then
        quarantine(id, list, worker)
        return "dead_lettered"
    end
    local t = read_task(key)
    local attempts, max_attempts = tonumber(t[3]) or 0, tonumber(t[4]) or 0
    local err = "worker " .. worker .. " was lost (its heartbeat expired) during attempt " .. attempts
    local record = history_fields(t[5], cjson.encode(
        {attempt = attempts, at = tonumber(now), worker = worker, error = err}))
    redis.call("LREM", list, 1, id)
    redis.call("HSET", key, "error", err, unpack(record))
    if attempts >= max_attempts then
        dead_letter(key, id, worker, attempts, "its worker was lost in " .. attempts .. " of " ..
                    max_attempts .. " attempts: a task that kills its worker?")
        return "dead_lettered"
    end
    back_to_pending(key, id, t[6], {}, true)
    emit("requeued", {"task", id, "worker", worker, "attempt", attempts, "reason", "worker lost"})
    return "requeued"
end


if command == "enqueue" then
    -- Add one chunk of tasks (the caller sends at most ENQUEUE_CHUNK per call). An id
    -- the queue already holds is refused, not queued twice: a chunk resent after a
    -- timeout whose first try got through queues nothing the second time. With a due
    -- time later than now, the tasks wait in the delayed ZSET (status "delayed",
    -- "due_at" on the hash), exactly like a retry: "promote" moves them to pending.
    -- ARGS: count, due (a time, or "" for now), then per task: id, type, data (JSON
    -- text), max_attempts, priority.
    -- KEYS: the task keys, in the same order.
    -- REPLY: {"enqueued", queued, already}
    -- Status: none -> pending | none -> delayed
    local count = tonumber(ARGV[5])
    local due = tonumber(ARGV[6])  -- nil: now
    if due and due <= tonumber(now) then due = nil end  -- already due: pending at once
    local held = {}
    for i = 1, count do  -- checks first
        local id = ARGV[7 + (i - 1) * 5]
        held[i] = redis.call("SISMEMBER", TASKS, id) == 1 or redis.call("EXISTS", TASK_KEYS[i]) == 1
    end
    local queued = 0
    for i = 1, count do
      if not held[i] then
        queued = queued + 1
        local base = 7 + (i - 1) * 5
        local id, kind, data, max_attempts, priority =
            ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
        redis.call("SADD", TASKS, id)
        redis.call("HSET", TASK_KEYS[i], "id", id, "type", kind, "data", data,
                   "status", due and "delayed" or "pending", "attempts", 0,
                   "max_attempts", max_attempts, "priority", priority, "created_at", now,
                   "history", 0)
        if due then
            redis.call("HSET", TASK_KEYS[i], "due_at", ARGV[6])
            redis.call("ZADD", DELAYED, ARGV[6], id)
            emit("enqueued", {"task", id, "type", kind, "priority", priority, "due", ARGV[6]})
        else
            redis.call("LPUSH", PRIORITY_LIST[priority], id)
            emit("enqueued", {"task", id, "type", kind, "priority", priority})
        end
      end
    end
    if queued > 0 and not due then wake(queued) end
    return {"enqueued", queued, count - queued}


elseif command == "claim" then
    -- Claim up to max_tasks for worker w: the oldest of the highest non-empty
    -- priority first. The move (LMOVE into w's own list), the attempt count, the
    -- owner, the heartbeat and the read of each task are one step: an id is never in
    -- a worker's list without its claim recorded, and a claim is never recorded for
    -- an id that is not in that worker's list (the fence).
    -- ARGS: worker, max_tasks, heartbeat_ttl_ms. KEYS: processing:<w>, worker:<w>
    -- REPLY: {"claimed", id, type, data, attempt, max_attempts, ...} | {"empty"} | {"paused"}
    -- (An id that is already finished is dropped from pending, event claim_refused; a
    -- record whose counters are not whole numbers is dead-lettered, naming the field.)
    -- Status: pending -> processing | pending -> dead_lettered
    return claim_batch(ARGV[5], tonumber(ARGV[6]), ARGV[7])


elseif command == "complete" then
    -- Record a success, fenced: only if the id is still in THIS worker's list and
    -- this is the attempt it claimed. Safe to resend after a lost reply ("already").
    -- With next_max > 0 it then claims up to that many more tasks for the same worker,
    -- like "claim" (one round trip per task for a busy worker: finish one, get the next).
    -- ARGS: worker, id, attempt, result (JSON text, size-checked by the caller; "" for
    -- none), next_max (0: claim nothing), heartbeat_ttl_ms, result_ttl_ms (0: kept; else
    -- the task's hash expires that long after its completion, see "expire")
    -- KEYS: processing:<w>, task:<id>, worker:<w>
    -- REPLY: {"completed", <the claim's reply>} | {"already", "completed"} | {"refused"}
    -- Status: processing -> completed
    -- (and, with next_max > 0, the claim's own move for what it claims)
    local worker, id, attempt, result = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
    local next_max, ttl_ms, result_ttl_ms = tonumber(ARGV[9]) or 0, ARGV[10], tonumber(ARGV[11]) or 0
    local t = read_task(TASK_KEYS[1])  -- the read that fails on a broken key, before any write
    local outcome = complete_one(worker, id, attempt, result, TASK_KEYS[1], t, result_ttl_ms)
    if outcome == "already" then return {"already", "completed"} end
    if outcome == "refused" then return {"refused"} end
    local reply = {"completed"}
    if next_max > 0 then
        for _, v in ipairs(claim_batch(worker, next_max, ttl_ms)) do reply[#reply + 1] = v end
    end
    return reply


elseif command == "complete_batch" then
    -- The successes of a prefetched batch in ONE call: each one fenced and resend-safe
    -- exactly as "complete" (one refused does not affect the others), then, with
    -- next_max > 0, a claim. The caller sends at most COMPLETE_CHUNK per call.
    -- ARGS: worker, next_max, heartbeat_ttl_ms, result_ttl_ms, then per task: id,
    -- attempt, result. KEYS: processing:<w>, worker:<w>, the task keys in the same order
    -- REPLY: {"batch", n, "completed" | "already" | "refused" (n of them), <the claim's reply>}
    -- Status: processing -> completed
    local worker, next_max, ttl_ms = ARGV[5], tonumber(ARGV[6]) or 0, ARGV[7]
    local result_ttl_ms = tonumber(ARGV[8]) or 0
    local read = {}
    for i, key in ipairs(TASK_KEYS) do read[i] = read_task(key) end  -- every read first
    local reply = {"batch", #TASK_KEYS}
    for i, key in ipairs(TASK_KEYS) do
        local base = 9 + (i - 1) * 3
        reply[#reply + 1] = complete_one(worker, ARGV[base], ARGV[base + 1], ARGV[base + 2],
                                         key, read[i], result_ttl_ms)
    end
    if next_max > 0 then
        for _, v in ipairs(claim_batch(worker, next_max, ttl_ms)) do reply[#reply + 1] = v end
    end
    return reply


elseif command == "fail" then
    -- An attempt raised an error (already counted at the claim). Either schedule a
    -- retry in the delayed ZSET or, for a permanent error or the last allowed
    -- attempt, dead-letter the task. Fenced and safe to resend, like "complete".
    -- ARGS: worker, id, attempt, error, permanent ("1"/"0"), retry delay (s), history entry (JSON)
    -- KEYS: processing:<w>, task:<id>
    -- REPLY: {"retry", due} | {"dead_lettered"} | {"already", <first outcome>, due?} | {"refused"}
    -- Status: processing -> delayed | processing -> dead_lettered
    local worker, id, attempt, err, permanent, delay, entry =
        ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
    local mine, key = MINE, TASK_KEYS[1]
    local t = read_task(key)
    local status, attempts, max_attempts, history, finished_by = t[1], t[3], t[4], t[5], t[7]
    if redis.call("LPOS", mine, id) == false or attempts ~= attempt then
        if finished_by == worker .. "/" .. attempt then
            if status == "delayed" then
                return {"already", "retry", redis.call("HGET", key, "due_at")}
            elseif status == "dead_lettered" then
                return {"already", "dead_lettered"}
            end
        end
        emit("completion_refused", {"task", id, "worker", worker})
        return {"refused"}
    end
    local n = tonumber(attempt) or 0
    local limit = tonumber(max_attempts) or 0
    local record = history_fields(history, entry)
    redis.call("LREM", mine, 1, id)
    redis.call("HSET", key, "error", err, "finished_by", worker .. "/" .. attempt, unpack(record))
    emit("failed", {"task", id, "worker", worker, "attempt", attempt, "error", err})
    if permanent == "1" or n >= limit then
        local reason = permanent == "1" and ("permanent error, not retried: " .. err)
            or ("failed " .. n .. " of " .. limit .. " attempts; last error: " .. err)
        dead_letter(key, id, worker, attempt, reason)
        return {"dead_lettered"}
    end
    local due = tostring(tonumber(now) + tonumber(delay))
    redis.call("HSET", key, "status", "delayed", "due_at", due)
    redis.call("ZADD", DELAYED, due, id)
    emit("retry_scheduled", {"task", id, "worker", worker, "attempt", attempt,
                             "delay", delay, "due", due})
    return {"retry", due}


elseif command == "requeue" then
    -- A worker gives a task back unfinished (a second Ctrl+C, or a batch it will not
    -- run). Not the task's fault, so the attempt is given back too; the task goes to
    -- the head of its line. Safe to resend.
    -- ARGS: worker, id, reason. KEYS: processing:<w>, task:<id>
    -- REPLY: {"requeued"} | {"already", "requeued"} | {"refused"}
    -- Status: processing -> pending
    -- (An id whose key is not a task hash is dead-lettered instead: see quarantine.)
    -- REPLY also: {"dead_lettered"}
    local worker, id, reason = ARGV[5], ARGV[6], ARGV[7]
    local mine, key = MINE, TASK_KEYS[1]
    if redis.call("TYPE", key)["ok"] ~= "hash" and redis.call("LPOS", mine, id) ~= false then
        quarantine(id, mine, worker)
        return {"dead_lettered"}
    end
    local t = read_task(key)
    local status, owner, attempts, priority, finished_by = t[1], t[2], t[3], t[6], t[7]
    if redis.call("LPOS", mine, id) == false then
        if status == "pending" and finished_by == worker .. "/requeued" then
            return {"already", "requeued"}
        end
        return {"refused"}
    end
    local attempt = tonumber(attempts) or 0
    if status == "processing" and owner == worker and attempt > 0 then
        attempt = attempt - 1  -- only if our claim was recorded
    end
    redis.call("LREM", mine, 1, id)
    back_to_pending(key, id, priority, {"attempts", attempt, "finished_by", worker .. "/requeued"},
                    true)
    wake(1)
    emit("requeued", {"task", id, "worker", worker, "attempt", attempt, "reason", reason})
    return {"requeued"}


elseif command == "reap" then
    -- The reaper. For every worker in the registry (plus any ids given: a full sweep
    -- found their lists outside it) whose heartbeat key has expired (Redis deleted
    -- it: no clocks of ours are compared), hand its in-flight tasks back. Each lost
    -- attempt stays counted, and a task that has used up its attempts goes to the
    -- DLQ instead: a task that kills every worker that runs it cannot loop forever.
    -- Cost: one EXISTS per registered worker, plus the work of the dead: O(workers).
    -- ARGS: extra worker ids.
    -- REPLY: {"reaped", worker, id, "requeued" | "dead_lettered", ...}
    -- Status: processing -> pending | processing -> dead_lettered
    local seen, candidates = {}, {}
    for _, w in ipairs(redis.call("ZRANGE", WORKERS, 0, -1)) do
        seen[w] = true; candidates[#candidates + 1] = w
    end
    for i = 5, #ARGV do
        if not seen[ARGV[i]] then seen[ARGV[i]] = true; candidates[#candidates + 1] = ARGV[i] end
    end
    local report = {"reaped"}
    local woken = 0
    for _, worker in ipairs(candidates) do
        if redis.call("EXISTS", heartbeat_key(worker)) == 0 then
            local list = processing_key(worker)
            local in_flight = redis.call("LRANGE", list, 0, -1)
            -- Newest claim first: each goes back to the head of the line (RPUSH), so the
            -- oldest ends up first in line again and a batch keeps its order.
            for _, id in ipairs(in_flight) do
                local outcome = recover(id, list, worker)
                if outcome == "requeued" then woken = woken + 1 end
                report[#report + 1] = worker
                report[#report + 1] = id
                report[#report + 1] = outcome
            end
            redis.call("DEL", list)
            if redis.call("ZREM", WORKERS, worker) == 1 or #in_flight > 0 then
                emit("worker_lost", {"worker", worker, "tasks", #in_flight})
            end
        end
    end
    if woken > 0 then wake(woken) end
    return report


elseif command == "promote" then
    -- Move delayed tasks whose time has come (retries, and tasks added with run_at or
    -- delay) from the delayed ZSET to pending.
    -- ARGS: limit (at most this many per call, so one call stays short)
    -- REPLY: {"promoted", n}
    -- Status: delayed -> pending
    -- (An id whose key is not a task hash is dead-lettered instead: see quarantine.)
    local found = redis.call("ZRANGEBYSCORE", DELAYED, "-inf", now, "LIMIT", 0, ARGV[5])
    local due, broken, moves = {}, {}, {}
    for _, id in ipairs(found) do
        if plausible_id(id) and redis.call("TYPE", task_key(id))["ok"] == "hash" then
            due[#due + 1] = id
            moves[#due] = redis.call("HMGET", task_key(id), "priority", "attempts")
        else
            broken[#broken + 1] = id
        end
    end
    for _, id in ipairs(broken) do quarantine(id, DELAYED, "") end
    for i, id in ipairs(due) do
        redis.call("ZREM", DELAYED, id)
        redis.call("HDEL", task_key(id), "due_at")
        back_to_pending(task_key(id), id, moves[i][1], {})
        local attempts = moves[i][2] or "0"  -- 0: added with run_at/delay, never run yet
        emit("requeued", {"task", id, "attempt", attempts, "reason",
                          attempts == "0" and "run_at due" or "retry due"})
    end
    if #due > 0 then wake(#due) end
    return {"promoted", #due}


elseif command == "replay" then
    -- Send a dead-lettered task round again with a fresh set of attempts (after the
    -- cause was fixed). Its error history stays on the hash.
    -- ARGS: id. KEYS: task:<id>
    -- REPLY: {"replayed"} | {"not_dead_lettered"}
    -- Status: dead_lettered -> pending
    local id, key = ARGV[5], TASK_KEYS[1]
    local priority = redis.call("HGET", key, "priority")
    if redis.call("LPOS", DLQ, id) == false then
        return {"not_dead_lettered"}
    end
    redis.call("LREM", DLQ, 1, id)
    redis.call("HDEL", key, "reason", "dead_at", "finished_at", "finished_by")
    redis.call("HINCRBY", key, "replays", 1)
    back_to_pending(key, id, priority, {"attempts", 0})
    wake(1)
    emit("replayed", {"task", id, "attempt", 0, "reason", "replayed from the DLQ"})
    return {"replayed"}


elseif command == "cancel" then
    -- Take a pending task out of the line for good (kept, counted, visible).
    -- ARGS: id. KEYS: task:<id>
    -- REPLY: {"cancelled"} | {"not_pending", status}
    -- Status: pending -> cancelled
    local id, key = ARGV[5], TASK_KEYS[1]
    local t = redis.call("HMGET", key, "status", "priority")
    local list = PRIORITY_LIST[t[2]] or PENDING
    if t[1] ~= "pending" or redis.call("LPOS", list, id) == false then
        return {"not_pending", t[1] or "none"}
    end
    redis.call("LREM", list, 1, id)
    redis.call("HSET", key, "status", "cancelled", "finished_at", now)
    redis.call("LPUSH", CANCELLED, id)
    trim_wake()
    emit("cancelled", {"task", id})
    return {"cancelled"}


elseif command == "purge" then
    -- Delete the oldest dead-lettered tasks for good (and forget their ids), at most
    -- `limit` per call (the caller calls again until fewer come back).
    -- ARGS: limit. REPLY: {"purged", n}
    -- Status: dead_lettered -> none
    local limit = tonumber(ARGV[5])
    local ids = redis.call("LRANGE", DLQ, -limit, -1)
    for _, id in ipairs(ids) do
        redis.call("DEL", task_key(id))
        redis.call("SREM", TASKS, id)
    end
    if #ids > 0 then
        redis.call("LTRIM", DLQ, 0, -(#ids + 1))
        emit("dlq_purged", {"tasks", #ids})
    end
    return {"purged", #ids}


elseif command == "expire" then
    -- Retention: forget the oldest finished tasks, at most `limit` per call. A completed
    -- task goes once its hash has expired (result_ttl: "complete" set a TTL on it), or
    -- once it is older than result_ttl, or when more than keep_completed are kept; a
    -- dead-lettered one once it is older than failure_ttl. Each leaves the completed
    -- list (or the DLQ) and the {q}:tasks registry together, and {q}:expired counts it,
    -- so the conservation invariant gains an "expired" term instead of breaking.
    -- ARGS: result_ttl (s, "" to keep), keep_completed ("" for no limit), failure_ttl
    -- (s, "" to keep), limit
    -- REPLY: {"expired", completed n, dead_lettered n}
    -- Status: completed -> none | dead_lettered -> none
    local result_ttl, keep = tonumber(ARGV[5]), tonumber(ARGV[6])
    local failure_ttl, limit = tonumber(ARGV[7]), tonumber(ARGV[8])
    local clock = tonumber(now)
    -- Reads. Completed: oldest at the left; the DLQ: oldest at the right.
    local over = keep and math.max(0, redis.call("LLEN", COMPLETED) - keep) or 0
    local done = {}
    for i, id in ipairs(redis.call("LRANGE", COMPLETED, 0, limit - 1)) do
        local finished = redis.pcall("HGET", task_key(id), "finished_at")
        local gone = finished == false or type(finished) == "table"  -- expired, or not a hash
        local old = result_ttl and tonumber(finished) and clock - tonumber(finished) >= result_ttl
        if not (i <= over or gone or old) then break end  -- the rest are younger
        done[#done + 1] = id
    end
    local dead = {}
    if failure_ttl then
        local ids = redis.call("LRANGE", DLQ, -limit, -1)
        for i = #ids, 1, -1 do
            local at = tonumber(redis.pcall("HGET", task_key(ids[i]), "dead_at"))
            if not (at and clock - at >= failure_ttl) then break end
            dead[#dead + 1] = ids[i]
        end
    end
    -- Writes.
    for _, id in ipairs(done) do redis.call("UNLINK", task_key(id)); redis.call("SREM", TASKS, id) end
    for _, id in ipairs(dead) do redis.call("UNLINK", task_key(id)); redis.call("SREM", TASKS, id) end
    if #done > 0 then redis.call("LTRIM", COMPLETED, #done, -1) end
    if #dead > 0 then redis.call("LTRIM", DLQ, 0, -(#dead + 1)) end
    if #done + #dead > 0 then
        redis.call("INCRBY", EXPIRED, #done + #dead)
        emit("expired", {"completed", #done, "dead_lettered", #dead})
    end
    return {"expired", #done, #dead}


elseif command == "pause" or command == "resume" then
    -- While paused, "claim" claims nothing; tasks in flight finish normally.
    -- REPLY: {"paused" | "resumed", changed (1/0)}
    -- Status: none (no task changes state)
    local changed
    if command == "pause" then
        changed = redis.call("SET", PAUSED, now, "NX") and 1 or 0
    else
        changed = redis.call("DEL", PAUSED)
        redis.call("DEL", WAKE)
        wake(pending_count())  -- the blocked workers wake up to the waiting work
    end
    if changed == 1 then emit(command == "pause" and "paused" or "resumed", {}) end
    return {command == "pause" and "paused" or "resumed", changed}


elseif command == "heartbeat" then
    -- "I am alive": refresh the key's TTL and the registry's last-seen time.
    -- ARGS: worker, ttl_ms. KEYS: worker:<w>
    -- REPLY: {"alive", existed (1/0)}: 0 tells a worker paused past its TTL that the
    -- reaper may have taken its tasks.
    -- Status: none
    local worker, ttl_ms, beat = ARGV[5], ARGV[6], BEAT
    local existed = redis.call("EXISTS", beat)
    redis.call("SET", beat, now, "PX", ttl_ms)
    redis.call("ZADD", WORKERS, now, worker)
    return {"alive", existed}


elseif command == "register" then
    -- A worker starts: its first heartbeat, plus a worker_started event.
    -- ARGS: worker, ttl_ms, pid, host. KEYS: worker:<w>
    -- REPLY: {"registered"}
    -- Status: none
    local worker, ttl_ms, beat = ARGV[5], ARGV[6], BEAT
    redis.call("SET", beat, now, "PX", ttl_ms)
    redis.call("ZADD", WORKERS, now, worker)
    emit("worker_started", {"worker", worker, "pid", ARGV[7], "host", ARGV[8]})
    return {"registered"}


elseif command == "stopping" then
    -- A worker got a stop signal and will leave after its current task.
    -- ARGS: worker. REPLY: {"noted"}. Status: none
    emit("worker_stopping", {"worker", ARGV[5]})
    return {"noted"}


elseif command == "deregister" then
    -- A worker leaves politely. Only with an empty processing list: anything still in
    -- it stays visible to the reaper once the heartbeat expires.
    -- ARGS: worker. KEYS: processing:<w>, worker:<w>
    -- REPLY: {"deregistered"} | {"busy", n}
    -- Status: none
    local worker, mine, beat = ARGV[5], MINE, BEAT
    local held = redis.call("LLEN", mine)
    if held > 0 then
        return {"busy", held}
    end
    redis.call("DEL", beat)
    redis.call("ZREM", WORKERS, worker)
    emit("worker_stopped", {"worker", worker})
    return {"deregistered"}


elseif command == "counts" then
    -- Every count at one instant, so the conservation check never catches a task
    -- between two keys. O(workers): the registry, plus any extra worker ids given.
    -- ARGS: extra worker ids.
    -- REPLY: {"counts", tasks, high, normal, low, delayed, completed, dlq, cancelled,
    --         paused, expired, worker, in flight, ...}
    -- Status: none
    local result = {"counts", redis.call("SCARD", TASKS), redis.call("LLEN", PENDING_HIGH),
                    redis.call("LLEN", PENDING), redis.call("LLEN", PENDING_LOW),
                    redis.call("ZCARD", DELAYED), redis.call("LLEN", COMPLETED),
                    redis.call("LLEN", DLQ), redis.call("LLEN", CANCELLED),
                    redis.call("EXISTS", PAUSED), tonumber(redis.call("GET", EXPIRED) or "0")}
    local seen = {}
    local candidates = redis.call("ZRANGE", WORKERS, 0, -1)
    for i = 5, #ARGV do candidates[#candidates + 1] = ARGV[i] end
    for _, worker in ipairs(candidates) do
        if not seen[worker] then
            seen[worker] = true
            result[#result + 1] = worker
            result[#result + 1] = redis.call("LLEN", processing_key(worker))
        end
    end
    return result
end

return redis.error_reply("unknown queue.lua command: " .. tostring(command))
