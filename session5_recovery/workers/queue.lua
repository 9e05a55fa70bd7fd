-- Every state change of a session-5 task queue: one atomic Lua script per command.
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
-- How this file becomes scripts. It has two parts: shared definitions (each under a
-- line "--- <name>"), then the commands (each under a line "--- command <name>").
-- The Python side (lua_scripts.py) sends every command to Redis as a script of its
-- own, made of:
--
--   - a first line that binds the command's KEYS by name, in the order its header's
--     KEYS line gives them (and refuses a call with another number of keys);
--   - the shared definitions its section uses (and those they use), in file order;
--   - its section.
--
-- So a script holds only what its command runs: Redis sets up a few lines per call,
-- not every command's helpers. Each command is called as
--
--   EVALSHA <sha> <numkeys> <the keys of its KEYS line> <now> <events_maxlen> <prefix> <args...>
--
--   now            the caller's clock (seconds, a float): written into timestamps,
--                  events and the delayed ZSET. Tests pass a fake clock here.
--   events_maxlen  the event stream is trimmed to about this many entries
--   prefix         "{q}:", what every key of the queue starts with
--
-- Keys. Every key of queue q starts with the hash tag {q}, so they all live in the
-- same Redis Cluster slot. A KEYS line names them by what follows "{q}:", and the
-- script calls each by the name in capitals (pending:high is PENDING_HIGH):
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
--   {q}:processing:<w>   LIST   MINE: ids worker <w> has claimed, its in-flight tasks
--   {q}:worker:<w>       STRING BEAT: worker <w>'s heartbeat; it expires unless refreshed (PX ttl)
--   {q}:task:<id>        HASH   TASK: the task: data, status, attempts, timestamps, result
--                               (one JSON field), error history. "task:<id>..." in a KEYS
--                               line: several task keys, in order, as TASK_KEYS.
--
-- Commands that discover ids themselves (claim, reap, promote, purge, expire, counts) build
-- those ids' task keys (and the registered workers' list and heartbeat keys) from
-- the same {q} prefix, so every key stays in the queue's slot.
--
-- Invariant kept by every command: each id in {q}:tasks is in exactly one of the
-- three pending lists, one processing list, delayed, completed, dlq or cancelled.
--
-- Every command replies with a list whose first element is the outcome:
-- {outcome, ...}. Each header says: KEYS, ARGS (ARGV[4] on), REPLY and the status
-- move ("Status: a -> b"); a test checks those moves against the table in task.py,
-- so the table and this script cannot disagree.


--- task_key
-- Keys of ids and workers a command finds itself (prefix is "{q}:").
local function task_key(id) return prefix .. "task:" .. id end

--- processing_key
local function processing_key(w) return prefix .. "processing:" .. w end

--- heartbeat_key
local function heartbeat_key(w) return prefix .. "worker:" .. w end

--- emit
-- Append one event to the stream: its name, then our own few fields (name, value, ...).
local function emit(event, ...)
    redis.call("XADD", EVENTS, "MAXLEN", "~", events_maxlen, "*", "event", event, "ts", now, ...)
end

--- PENDING_LISTS
-- The three priorities' lists, in the order claims take from them.
local PENDING_LISTS = {PENDING_HIGH, PENDING, PENDING_LOW}

--- priority_list
local function priority_list(priority)
    if priority == "high" then return PENDING_HIGH end
    if priority == "low" then return PENDING_LOW end
    return PENDING
end

--- pending_count
local function pending_count()
    return redis.call("LLEN", PENDING_HIGH) + redis.call("LLEN", PENDING) + redis.call("LLEN", PENDING_LOW)
end

--- trim_wake
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

--- wake
-- At most MAX_WAKE tokens per call: they are for the workers blocked right now, and a
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

--- back_to_pending
-- Make a task claimable again, with `...` (our own few fields) written too: at the head
-- of its priority's line (RPUSH: the end claims take from) when it was interrupted, at
-- the tail (LPUSH, like a new task) when it comes back later (a retry, a replay). The
-- caller wakes the workers.
local function back_to_pending(key, id, priority, at_head, ...)
    redis.call("HSET", key, "status", "pending", "worker_id", "", ...)
    redis.call(at_head and "RPUSH" or "LPUSH", priority_list(priority), id)
end

--- dead_letter
-- Dead-letter a task: its hash says why (plus `...`, our own few fields), its id goes
-- to the head of the DLQ, and an event says so. `key` nil: the id's key holds something
-- that is not a hash, left as it is for a person; only the id is parked.
local function dead_letter(key, id, worker, attempt, reason, ...)
    if key then
        redis.call("HSET", key, "status", "dead_lettered", "reason", reason,
                   "finished_at", now, "dead_at", now, ...)
    end
    redis.call("LPUSH", DLQ, id)
    emit("dead_lettered", "task", id, "worker", worker, "attempt", attempt, "reason", reason)
end

--- read_task
-- Read what the finishing commands need, all at once (a read: errors, if the hash
-- has the wrong type, before anything is written).
local function read_task(key)
    return redis.call("HMGET", key, "status", "worker_id", "attempts", "max_attempts",
                      "history", "priority", "finished_by")
end

--- plausible_id
-- Is this list entry a task id we could have made? (text, no spaces or glob characters)
local function plausible_id(entry)
    return #entry > 0 and #entry <= 200 and not string.find(entry, "[^%w%-%._:@]")
end

--- to_hex
local function to_hex(s)
    return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end))
end

--- eviction_note
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

--- malformed_field
-- Fields a script counts with: a hash edited by hand may hold "abc" there. `fields` is
-- the claim's read (see claim_candidates); the first field that is not a whole number,
-- and its value; nil if all are fine (or absent).
local function not_whole(v) return v and not string.match(v, "^%d+$") end
local function malformed_field(fields)
    if not_whole(fields[3]) then return "attempts", fields[3] end
    if not_whole(fields[4]) then return "max_attempts", fields[4] end
    if not_whole(fields[6]) then return "history", fields[6] end
    if not_whole(fields[8]) then return "replays", fields[8] end
    return nil
end

--- quarantine
-- An entry with no task behind it (pushed into a pending list by hand?), or a task key
-- holding something other than a hash: remove it from `source` (a list; the delayed
-- ZSET when `scored`) and move it into the DLQ with a record saying so, instead of
-- failing on it again and again. Entries that are not plausible ids (bytes that are not
-- text) are recorded under a new id, with their bytes.
local function quarantine(entry, source, worker, scored)
    if scored then
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
                 "was it pushed into a pending list by hand?") .. ")"
    end
    redis.call("SADD", TASKS, id)
    dead_letter(task_key(id), id, worker, 0, reason, "id", id, "type", "unknown", "data", data,
                "attempts", 0, "max_attempts", 0, "created_at", now, "history", 0)
end

--- history_fields
-- One more entry of error history (fields error:1, error:2, ...), given the count read before.
local function history_fields(history, entry)
    local n = (tonumber(history) or 0) + 1
    return "history", n, "error:" .. n, entry
end

--- read_candidate
-- The read of one claim candidate `id`: the fields a claim needs (nil: no task behind
-- it, or not a hash), and, when it cannot be claimed, why: finished (its id was pushed
-- in again by hand), or a counter that is not a whole number (its name and value).
local function read_candidate(id)
    -- pcall: a key of the wrong type is an error reply here, not a failed script. The
    -- key may be read before the id is checked: whatever follows "{q}:task:" in a key,
    -- the hash tag {q} keeps it in the queue's slot.
    local f = redis.pcall("HMGET", task_key(id), "type", "data", "attempts", "max_attempts",
                          "id", "history", "status", "replays")
    -- A record names its own id: then the id is one add_task checked and wrote. Anything
    -- else must at least look like an id (and there must be a record).
    if f.err or not (f[5] == id or (plausible_id(id) and (f[1] or f[2] or f[3] or f[4]))) then
        return nil
    end
    local status, bad_field, bad_value = f[7], malformed_field(f)
    local finished = (status == "completed" or status == "dead_lettered" or status == "cancelled")
    return f, finished and status, bad_field, bad_value
end

--- claim_candidates
-- The reads of a claim: the oldest `max_tasks` ids of the highest priorities, newest
-- first, each with what read_candidate found.
local function claim_candidates(max_tasks, max_tasks_text)
    local picked = {}
    for _, list in ipairs(PENDING_LISTS) do
        local want = max_tasks - #picked
        if want <= 0 then break end
        -- the oldest `want` (a count written as text: Redis 7.0 formats a Lua number
        -- with snprintf, a cost paid on every number passed to redis.call)
        local ids = redis.call("LRANGE", list, #picked == 0 and "-" .. max_tasks_text or -want, "-1")
        for i = #ids, 1, -1 do
            local id = ids[i]
            local fields, finished, bad_field, bad_value = read_candidate(id)
            picked[#picked + 1] = {id = id, list = list, fields = fields, finished = finished,
                                   bad_field = bad_field, bad_value = bad_value}
        end
    end
    return picked
end

--- claim_one
-- The write of a claim for one candidate `p`; a claimed task is appended to `reply`.
local function claim_one(p, worker, reply)
    if p.fields == nil then
        quarantine(p.id, p.list, worker)
    elseif p.finished then
        redis.call("LREM", p.list, -1, p.id)  -- the stray copy; the task stays where it is
        emit("claim_refused", "task", p.id, "worker", worker, "status", p.finished, "reason",
             "already " .. p.finished .. "; its id was pushed into pending again")
    elseif p.bad_field then
        -- Counters reset to numbers so later commands can read them; the bad value is kept.
        local reason = "malformed task record: field '" .. p.bad_field .. "' is " ..
                       string.format("%q", string.sub(p.bad_value, 1, 40)) ..
                       ", not a whole number (was the hash edited by hand?)"
        redis.call("LREM", p.list, -1, p.id)
        dead_letter(task_key(p.id), p.id, worker, 0, reason, "attempts", 0, "max_attempts", 0,
                    "history", 0, "replays", 0, "bad_" .. p.bad_field, p.bad_value)
    else
        redis.call("LMOVE", p.list, MINE, "RIGHT", "LEFT")
        local attempt = tostring((tonumber(p.fields[3]) or 0) + 1)  -- counted at the claim
        redis.call("HSET", task_key(p.id), "status", "processing", "worker_id", worker,
                   "started_at", now, "attempts", attempt)
        emit("claimed", "task", p.id, "worker", worker, "attempt", attempt)
        local n = #reply
        reply[n + 1], reply[n + 2], reply[n + 3] = p.id, p.fields[1] or "image", p.fields[2] or ""
        reply[n + 4], reply[n + 5] = attempt, p.fields[4] or "0"
    end
end

--- claim_batch
-- Claim up to max_tasks for `worker` into MINE (see the "claim" command): the reads
-- first, then the moves. Used by "claim", and by the completions to hand out the next
-- tasks. Appends to `reply` ("claimed", id, type, data, attempt, max_attempts, ...; or
-- "empty", or "paused").
local function claim_batch(worker, max_tasks_text, ttl_ms, reply)
    if redis.call("EXISTS", PAUSED) == 1 then
        reply[#reply + 1] = "paused"
        return reply
    end
    local max_tasks = tonumber(max_tasks_text)
    local picked = claim_candidates(max_tasks, max_tasks_text)
    -- A claimer is alive (its heartbeat's TTL starts again: a client that claims
    -- without a heartbeat thread stays alive while it keeps claiming) and registered,
    -- or the reaper could not find what it holds. The registry is written only when
    -- the heartbeat was missing (a first claim, a worker back from a long pause): a
    -- live heartbeat key means a registered worker, and the thread refreshes the rest.
    if not redis.call("SET", BEAT, now, "PX", ttl_ms, "GET") then
        redis.call("ZADD", WORKERS, now, worker)
    end
    -- Every picked id left pending, so one token each goes too (never more tokens than
    -- pending ids); a claim that found fewer than it asked for emptied every list.
    if #picked < max_tasks then
        redis.call("DEL", WAKE)
    else
        redis.call("LTRIM", WAKE, max_tasks_text, "-1")  -- (#picked == max_tasks)
    end
    if #picked == 0 then
        reply[#reply + 1] = "empty"
        return reply
    end
    reply[#reply + 1] = "claimed"
    for _, p in ipairs(picked) do claim_one(p, worker, reply) end
    return reply
end

--- read_finish
-- What a completion's fence reads (a read: errors, if the hash has the wrong type,
-- before anything is written).
local function read_finish(key)
    return redis.call("HMGET", key, "status", "attempts", "finished_by")
end

--- complete_one
-- Record the success of attempt `attempt` of task `id` (hash `key`, read as `t` by
-- read_finish), fenced: only if the id is still in THIS worker's list (MINE) and this is
-- the attempt it claimed. Returns "completed", "already" (a resend of a completion
-- that got through) or "refused" (no longer ours: nothing is written). The caller
-- appends a completed id to the completed list.
local function complete_one(worker, id, attempt, result, key, t, result_ttl_ms)
    local status, attempts, finished_by = t[1], t[2], t[3]
    -- The fence: LREM removes the id only if it is in THIS worker's list (a removal
    -- of nothing writes nothing), and only for the attempt this worker claimed.
    if attempts ~= attempt or redis.call("LREM", MINE, "1", id) == 0 then
        if status == "completed" and finished_by == worker .. "/" .. attempt then
            return "already"  -- our earlier call got through; its reply was lost
        end
        emit("completion_refused", "task", id, "worker", worker)
        return "refused"
    end
    -- (worker_id already names this worker: the fence just proved it claimed the task.
    -- An empty result is no result: no field.)
    if result == "" then
        redis.call("HSET", key, "status", "completed", "finished_at", now,
                   "finished_by", worker .. "/" .. attempt)
    else
        redis.call("HSET", key, "status", "completed", "finished_at", now,
                   "finished_by", worker .. "/" .. attempt, "result", result)
    end
    if result_ttl_ms ~= "0" then redis.call("PEXPIRE", key, result_ttl_ms) end
    emit("completed", "task", id, "worker", worker, "attempt", attempt)
    return "completed"
end

--- complete_all
-- The successes of a batch in one call: the tasks of TASK_KEYS, whose id, attempt and
-- result come in threes from ARGV[first] on, each fenced and resend-safe on its own
-- (complete_one: one refused does not affect the others), every read first; one RPUSH
-- for the ids completed. Returns {"batch", n, "completed" | "already" | "refused", ...}.
local function complete_all(worker, result_ttl_ms, first)
    local read = {}
    for i, key in ipairs(TASK_KEYS) do read[i] = read_finish(key) end
    local reply, done = {"batch", #TASK_KEYS}, {}
    for i, key in ipairs(TASK_KEYS) do
        local at = first + 3 * (i - 1)
        local outcome = complete_one(worker, ARGV[at], ARGV[at + 1], ARGV[at + 2], key, read[i],
                                     result_ttl_ms)
        if outcome == "completed" then done[#done + 1] = ARGV[at] end
        reply[#reply + 1] = outcome
    end
    if #done > 0 then redis.call("RPUSH", COMPLETED, unpack(done)) end  -- at most COMPLETE_CHUNK
    return reply
end

--- recover
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
    local entry = cjson.encode({attempt = attempts, at = tonumber(now), worker = worker, error = err})
    redis.call("LREM", list, 1, id)
    redis.call("HSET", key, "error", err, history_fields(t[5], entry))
    if attempts >= max_attempts then
        dead_letter(key, id, worker, attempts, "its worker was lost in " .. attempts .. " of " ..
                    max_attempts .. " attempts: a task that kills its worker?")
        return "dead_lettered"
    end
    back_to_pending(key, id, t[6], true)
    emit("requeued", "task", id, "worker", worker, "attempt", attempts, "reason", "worker lost")
    return "requeued"
end


--- command enqueue
-- Add one chunk of tasks (the caller sends at most ENQUEUE_CHUNK per call). An id
-- the queue already holds is refused, not queued twice: a chunk resent after a
-- timeout whose first try got through queues nothing the second time. With a due
-- time later than now, the tasks wait in the delayed ZSET (status "delayed",
-- "due_at" on the hash), exactly like a retry: "promote" moves them to pending.
-- KEYS: pending:high, pending, pending:low, wake, delayed, tasks, events, task:<id>...
-- ARGS: count, due (a time, or "" for now), then per task: id, type, data (JSON
-- text), max_attempts, priority.
-- REPLY: {"enqueued", queued, already}
-- Status: none -> pending | none -> delayed
local count = tonumber(ARGV[4])
local due = tonumber(ARGV[5])  -- nil: now
if due and due <= tonumber(now) then due = nil end  -- already due: pending at once
local held = {}
for i = 1, count do  -- checks first
    local id = ARGV[6 + (i - 1) * 5]
    held[i] = redis.call("SISMEMBER", TASKS, id) == 1 or redis.call("EXISTS", TASK_KEYS[i]) == 1
end
local queued = 0
for i = 1, count do
    if not held[i] then
        queued = queued + 1
        local base = 6 + (i - 1) * 5
        local id, kind, data, max_attempts, priority =
            ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
        redis.call("SADD", TASKS, id)
        redis.call("HSET", TASK_KEYS[i], "id", id, "type", kind, "data", data,
                   "status", due and "delayed" or "pending", "attempts", 0,
                   "max_attempts", max_attempts, "priority", priority, "created_at", now,
                   "history", 0)
        if due then
            redis.call("HSET", TASK_KEYS[i], "due_at", ARGV[5])
            redis.call("ZADD", DELAYED, ARGV[5], id)
            emit("enqueued", "task", id, "type", kind, "priority", priority, "due", ARGV[5])
        else
            redis.call("LPUSH", priority_list(priority), id)
            emit("enqueued", "task", id, "type", kind, "priority", priority)
        end
    end
end
if queued > 0 and not due then wake(queued) end
return {"enqueued", queued, count - queued}


--- command claim
-- Claim up to max_tasks for worker w: the oldest of the highest non-empty
-- priority first. The move (LMOVE into w's own list), the attempt count, the
-- owner, the heartbeat and the read of each task are one step: an id is never in
-- a worker's list without its claim recorded, and a claim is never recorded for
-- an id that is not in that worker's list (the fence).
-- (An id that is already finished is dropped from pending, event claim_refused; a
-- record whose counters are not whole numbers is dead-lettered, naming the field.)
-- KEYS: pending:high, pending, pending:low, wake, paused, workers, dlq, tasks, events,
--       processing:<w>, worker:<w>
-- ARGS: worker, max_tasks, heartbeat_ttl_ms
-- REPLY: {"claimed", id, type, data, attempt, max_attempts, ...} | {"empty"} | {"paused"}
-- Status: pending -> processing | pending -> dead_lettered
return claim_batch(ARGV[4], ARGV[5], ARGV[6], {})


--- command complete
-- Record a success, fenced: only if the id is still in THIS worker's list and this
-- is the attempt it claimed. Safe to resend after a lost reply ("already").
-- KEYS: completed, events, processing:<w>, task:<id>
-- ARGS: worker, id, attempt, result (JSON text, size-checked by the caller; "" for
-- none), result_ttl_ms ("0": kept; else the task's hash expires that long after its
-- completion, see "expire")
-- REPLY: {"completed"} | {"already", "completed"} | {"refused"}
-- Status: processing -> completed
local worker, id, attempt, result = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local outcome = complete_one(worker, id, attempt, result, TASK, read_finish(TASK), ARGV[8])
if outcome == "completed" then redis.call("RPUSH", COMPLETED, id) end
if outcome == "already" then return {"already", "completed"} end
return {outcome}


--- command complete_and_claim
-- "complete", then, when the completion was ours, "claim" for the same worker: finish
-- one, get the next, in one round trip (what a busy worker does after each task).
-- KEYS: completed, pending:high, pending, pending:low, wake, paused, workers, dlq, tasks,
--       events, processing:<w>, worker:<w>, task:<id>
-- ARGS: worker, id, attempt, result, result_ttl_ms (as "complete"), max_tasks,
-- heartbeat_ttl_ms (as "claim")
-- REPLY: {"completed", <the claim's reply>} | {"already", "completed"} | {"refused"}
-- Status: processing -> completed | pending -> processing | pending -> dead_lettered
local worker, id, attempt, result = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local outcome = complete_one(worker, id, attempt, result, TASK, read_finish(TASK), ARGV[8])
if outcome == "already" then return {"already", "completed"} end
if outcome == "refused" then return {"refused"} end
redis.call("RPUSH", COMPLETED, id)
return claim_batch(worker, ARGV[9], ARGV[10], {"completed"})


--- command complete_batch
-- The successes of a prefetched batch in ONE call: each one fenced and resend-safe
-- exactly as "complete" (one refused does not affect the others). The caller sends at
-- most COMPLETE_CHUNK per call.
-- KEYS: completed, events, processing:<w>, task:<id>...
-- ARGS: worker, result_ttl_ms, then per task: id, attempt, result
-- REPLY: {"batch", n, "completed" | "already" | "refused" (n of them)}
-- Status: processing -> completed
return complete_all(ARGV[4], ARGV[5], 6)


--- command complete_batch_and_claim
-- "complete_batch", then "claim" for the same worker: the end of a prefetched batch
-- and the start of the next, in one round trip.
-- KEYS: completed, pending:high, pending, pending:low, wake, paused, workers, dlq, tasks,
--       events, processing:<w>, worker:<w>, task:<id>...
-- ARGS: worker, result_ttl_ms, max_tasks, heartbeat_ttl_ms, then per task: id,
-- attempt, result
-- REPLY: {"batch", n, "completed" | "already" | "refused" (n of them), <the claim's reply>}
-- Status: processing -> completed | pending -> processing | pending -> dead_lettered
local worker = ARGV[4]
return claim_batch(worker, ARGV[6], ARGV[7], complete_all(worker, ARGV[5], 8))


--- command fail
-- An attempt raised an error (already counted at the claim). Either schedule a
-- retry in the delayed ZSET or, for a permanent error or the last allowed
-- attempt, dead-letter the task. Fenced and safe to resend, like "complete".
-- KEYS: delayed, dlq, events, processing:<w>, task:<id>
-- ARGS: worker, id, attempt, error, permanent ("1"/"0"), retry delay (s), history entry (JSON)
-- REPLY: {"retry", due} | {"dead_lettered"} | {"already", <first outcome>, due?} | {"refused"}
-- Status: processing -> delayed | processing -> dead_lettered
local worker, id, attempt, err, permanent, delay, entry =
    ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local t = read_task(TASK)
local status, attempts, max_attempts, history, finished_by = t[1], t[3], t[4], t[5], t[7]
if redis.call("LPOS", MINE, id) == false or attempts ~= attempt then
    if finished_by == worker .. "/" .. attempt then
        if status == "delayed" then
            return {"already", "retry", redis.call("HGET", TASK, "due_at")}
        elseif status == "dead_lettered" then
            return {"already", "dead_lettered"}
        end
    end
    emit("completion_refused", "task", id, "worker", worker)
    return {"refused"}
end
local n, limit = tonumber(attempt) or 0, tonumber(max_attempts) or 0
redis.call("LREM", MINE, 1, id)
redis.call("HSET", TASK, "error", err, "finished_by", worker .. "/" .. attempt,
           history_fields(history, entry))
emit("failed", "task", id, "worker", worker, "attempt", attempt, "error", err)
if permanent == "1" or n >= limit then
    local reason = permanent == "1" and ("permanent error, not retried: " .. err)
        or ("failed " .. n .. " of " .. limit .. " attempts; last error: " .. err)
    dead_letter(TASK, id, worker, attempt, reason)
    return {"dead_lettered"}
end
local due = tostring(tonumber(now) + tonumber(delay))
redis.call("HSET", TASK, "status", "delayed", "due_at", due)
redis.call("ZADD", DELAYED, due, id)
emit("retry_scheduled", "task", id, "worker", worker, "attempt", attempt, "delay", delay, "due", due)
return {"retry", due}


--- command requeue
-- A worker gives a task back unfinished (a second Ctrl+C, or a batch it will not
-- run). Not the task's fault, so the attempt is given back too; the task goes to
-- the head of its line. Safe to resend.
-- (An id whose key is not a task hash is dead-lettered instead: see quarantine.)
-- KEYS: pending:high, pending, pending:low, wake, dlq, tasks, events, processing:<w>, task:<id>
-- ARGS: worker, id, reason
-- REPLY: {"requeued"} | {"already", "requeued"} | {"refused"} | {"dead_lettered"}
-- Status: processing -> pending
local worker, id, reason = ARGV[4], ARGV[5], ARGV[6]
if redis.call("TYPE", TASK)["ok"] ~= "hash" and redis.call("LPOS", MINE, id) ~= false then
    quarantine(id, MINE, worker)
    return {"dead_lettered"}
end
local t = read_task(TASK)
local status, owner, attempts, priority, finished_by = t[1], t[2], t[3], t[6], t[7]
if redis.call("LPOS", MINE, id) == false then
    if status == "pending" and finished_by == worker .. "/requeued" then
        return {"already", "requeued"}
    end
    return {"refused"}
end
local attempt = tonumber(attempts) or 0
if status == "processing" and owner == worker and attempt > 0 then
    attempt = attempt - 1  -- only if our claim was recorded
end
redis.call("LREM", MINE, 1, id)
back_to_pending(TASK, id, priority, true, "attempts", attempt, "finished_by", worker .. "/requeued")
wake(1)
emit("requeued", "task", id, "worker", worker, "attempt", attempt, "reason", reason)
return {"requeued"}


--- command reap
-- The reaper. For every worker in the registry (plus any ids given: a full sweep
-- found their lists outside it) whose heartbeat key has expired (Redis deleted
-- it: no clocks of ours are compared), hand its in-flight tasks back. Each lost
-- attempt stays counted, and a task that has used up its attempts goes to the
-- DLQ instead: a task that kills every worker that runs it cannot loop forever.
-- Cost: one EXISTS per registered worker, plus the work of the dead: O(workers).
-- KEYS: pending:high, pending, pending:low, wake, workers, dlq, tasks, events
-- ARGS: extra worker ids.
-- REPLY: {"reaped", worker, id, "requeued" | "dead_lettered", ...}
-- Status: processing -> pending | processing -> dead_lettered
local seen, candidates = {}, {}
for _, w in ipairs(redis.call("ZRANGE", WORKERS, 0, -1)) do
    seen[w] = true; candidates[#candidates + 1] = w
end
for i = 4, #ARGV do
    if not seen[ARGV[i]] then seen[ARGV[i]] = true; candidates[#candidates + 1] = ARGV[i] end
end
local report, woken = {"reaped"}, 0
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
            emit("worker_lost", "worker", worker, "tasks", #in_flight)
        end
    end
end
wake(woken)
return report


--- command promote
-- Move delayed tasks whose time has come (retries, and tasks added with run_at or
-- delay) from the delayed ZSET to pending.
-- (An id whose key is not a task hash is dead-lettered instead: see quarantine.)
-- KEYS: pending:high, pending, pending:low, wake, delayed, dlq, tasks, events
-- ARGS: limit (at most this many per call, so one call stays short)
-- REPLY: {"promoted", n}
-- Status: delayed -> pending
local found = redis.call("ZRANGEBYSCORE", DELAYED, "-inf", now, "LIMIT", 0, ARGV[4])
local due, broken, moves = {}, {}, {}
for _, id in ipairs(found) do
    if plausible_id(id) and redis.call("TYPE", task_key(id))["ok"] == "hash" then
        due[#due + 1] = id
        moves[#due] = redis.call("HMGET", task_key(id), "priority", "attempts")
    else
        broken[#broken + 1] = id
    end
end
for _, id in ipairs(broken) do quarantine(id, DELAYED, "", true) end
for i, id in ipairs(due) do
    redis.call("ZREM", DELAYED, id)
    redis.call("HDEL", task_key(id), "due_at")
    back_to_pending(task_key(id), id, moves[i][1], false)
    local attempts = moves[i][2] or "0"  -- 0: added with run_at/delay, never run yet
    emit("requeued", "task", id, "attempt", attempts, "reason",
         attempts == "0" and "run_at due" or "retry due")
end
wake(#due)
return {"promoted", #due}


--- command replay
-- Send a dead-lettered task round again with a fresh set of attempts (after the
-- cause was fixed). Its error history stays on the hash.
-- KEYS: pending:high, pending, pending:low, wake, dlq, events, task:<id>
-- ARGS: id
-- REPLY: {"replayed"} | {"not_dead_lettered"}
-- Status: dead_lettered -> pending
local id = ARGV[4]
local priority = redis.call("HGET", TASK, "priority")
if redis.call("LPOS", DLQ, id) == false then
    return {"not_dead_lettered"}
end
redis.call("LREM", DLQ, 1, id)
redis.call("HDEL", TASK, "reason", "dead_at", "finished_at", "finished_by")
redis.call("HINCRBY", TASK, "replays", 1)
back_to_pending(TASK, id, priority, false, "attempts", 0)
wake(1)
emit("replayed", "task", id, "attempt", 0, "reason", "replayed from the DLQ")
return {"replayed"}


--- command cancel
-- Take a pending task out of the line for good (kept, counted, visible).
-- KEYS: pending:high, pending, pending:low, wake, cancelled, events, task:<id>
-- ARGS: id
-- REPLY: {"cancelled"} | {"not_pending", status}
-- Status: pending -> cancelled
local id = ARGV[4]
local t = redis.call("HMGET", TASK, "status", "priority")
local list = priority_list(t[2])
if t[1] ~= "pending" or redis.call("LPOS", list, id) == false then
    return {"not_pending", t[1] or "none"}
end
redis.call("LREM", list, 1, id)
redis.call("HSET", TASK, "status", "cancelled", "finished_at", now)
redis.call("LPUSH", CANCELLED, id)
trim_wake()
emit("cancelled", "task", id)
return {"cancelled"}


--- command purge
-- Delete the oldest dead-lettered tasks for good (and forget their ids), at most
-- `limit` per call (the caller calls again until fewer come back).
-- KEYS: dlq, tasks, events
-- ARGS: limit
-- REPLY: {"purged", n}
-- Status: dead_lettered -> none
local ids = redis.call("LRANGE", DLQ, -tonumber(ARGV[4]), -1)
for _, id in ipairs(ids) do
    redis.call("DEL", task_key(id))
    redis.call("SREM", TASKS, id)
end
if #ids > 0 then
    redis.call("LTRIM", DLQ, 0, -(#ids + 1))
    emit("dlq_purged", "tasks", #ids)
end
return {"purged", #ids}


--- command expire
-- Retention: forget the oldest finished tasks, at most `limit` per call. A completed
-- task goes once its hash has expired (result_ttl: the completion set a TTL on it), or
-- once it is older than result_ttl, or when more than keep_completed are kept; a
-- dead-lettered one once it is older than failure_ttl. Each leaves the completed list
-- (or the DLQ) and the {q}:tasks registry together, and {q}:expired counts it, so the
-- conservation invariant gains an "expired" term instead of breaking.
-- KEYS: completed, dlq, tasks, expired, events
-- ARGS: result_ttl (s, "" to keep), keep_completed ("" for no limit), failure_ttl
-- (s, "" to keep), limit
-- REPLY: {"expired", completed n, dead_lettered n}
-- Status: completed -> none | dead_lettered -> none
local result_ttl, keep = tonumber(ARGV[4]), tonumber(ARGV[5])
local failure_ttl, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
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
    emit("expired", "completed", #done, "dead_lettered", #dead)
end
return {"expired", #done, #dead}


--- command pause
-- While paused, "claim" claims nothing; tasks in flight finish normally.
-- KEYS: paused, events
-- REPLY: {"paused", changed (1/0)}
-- Status: none (no task changes state)
local changed = redis.call("SET", PAUSED, now, "NX") and 1 or 0
if changed == 1 then emit("paused") end
return {"paused", changed}


--- command resume
-- The blocked workers wake up to the waiting work.
-- KEYS: pending:high, pending, pending:low, wake, paused, events
-- REPLY: {"resumed", changed (1/0)}
-- Status: none (no task changes state)
local changed = redis.call("DEL", PAUSED)
redis.call("DEL", WAKE)
wake(pending_count())
if changed == 1 then emit("resumed") end
return {"resumed", changed}


--- command heartbeat
-- "I am alive": refresh the key's TTL and the registry's last-seen time.
-- KEYS: workers, worker:<w>
-- ARGS: worker, ttl_ms
-- REPLY: {"alive", existed (1/0)}: 0 tells a worker paused past its TTL that the
-- reaper may have taken its tasks.
-- Status: none
local existed = redis.call("EXISTS", BEAT)
redis.call("SET", BEAT, now, "PX", ARGV[5])
redis.call("ZADD", WORKERS, now, ARGV[4])
return {"alive", existed}


--- command register
-- A worker starts: its first heartbeat, plus a worker_started event.
-- KEYS: workers, events, worker:<w>
-- ARGS: worker, ttl_ms, pid, host
-- REPLY: {"registered"}
-- Status: none
redis.call("SET", BEAT, now, "PX", ARGV[5])
redis.call("ZADD", WORKERS, now, ARGV[4])
emit("worker_started", "worker", ARGV[4], "pid", ARGV[6], "host", ARGV[7])
return {"registered"}


--- command stopping
-- A worker got a stop signal and will leave after its current task.
-- KEYS: events
-- ARGS: worker
-- REPLY: {"noted"}
-- Status: none
emit("worker_stopping", "worker", ARGV[4])
return {"noted"}


--- command deregister
-- A worker leaves politely. Only with an empty processing list: anything still in
-- it stays visible to the reaper once the heartbeat expires.
-- KEYS: workers, events, processing:<w>, worker:<w>
-- ARGS: worker
-- REPLY: {"deregistered"} | {"busy", n}
-- Status: none
local held = redis.call("LLEN", MINE)
if held > 0 then
    return {"busy", held}
end
redis.call("DEL", BEAT)
redis.call("ZREM", WORKERS, ARGV[4])
emit("worker_stopped", "worker", ARGV[4])
return {"deregistered"}


--- command counts
-- Every count at one instant, so the conservation check never catches a task
-- between two keys. O(workers): the registry, plus any extra worker ids given.
-- KEYS: pending:high, pending, pending:low, paused, delayed, completed, dlq, cancelled,
--       tasks, workers, expired
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
for i = 4, #ARGV do candidates[#candidates + 1] = ARGV[i] end
for _, worker in ipairs(candidates) do
    if not seen[worker] then
        seen[worker] = true
        result[#result + 1] = worker
        result[#result + 1] = redis.call("LLEN", processing_key(worker))
    end
end
return result
