-- Every state change of a session-5 task queue, as one atomic Lua script.
--
-- Redis runs a script from start to end without running any other command in
-- between, so each branch below is one indivisible step: no worker, reaper or
-- monitor can ever see a task half-moved. The Python side (redis_task_queue.py) loads this
-- file once and calls it with a command name, the way Dramatiq's Redis broker does.
--
-- Called as:  EVALSHA <sha> 0 <command> <queue> <now> <events_maxlen> <args...>
--
--   queue          the queue name; every key below starts with it
--   now            the caller's clock (seconds, a float): written into timestamps,
--                  events and the delayed ZSET. Tests pass a fake clock here.
--   events_maxlen  the event stream is trimmed to about this many entries
--
-- Keys (q = the queue name):
--   q:pending          LIST   ids waiting for a worker (LPUSH in, BLMOVE out at the right: FIFO)
--   q:processing:<w>   LIST   ids worker <w> has claimed: its in-flight tasks
--   q:worker:<w>       STRING worker <w>'s heartbeat; it expires unless refreshed (PX ttl)
--   q:workers          ZSET   worker id -> last time it said it was alive (the registry)
--   q:delayed          ZSET   id -> time its retry is due
--   q:completed        LIST   ids of completed tasks (oldest at the left)
--   q:dlq              LIST   ids of dead-lettered tasks (newest at the left)
--   q:task:<id>        HASH   the task: data, status, attempts, timestamps, error history
--   q:result:<id>      HASH   a completed task's result, one field per key (JSON values)
--   q:tasks            SET    every id the queue holds (the "enqueued" registry)
--   q:events           STREAM what happened, one entry per event
--
-- The keys are built here from the queue name instead of being passed in KEYS:
-- fine on one Redis server, not on Redis Cluster (see README, "Limitations").
--
-- Invariant kept by every command: each id in q:tasks is in exactly one of
-- pending, one processing list, delayed, completed or dlq.

local command = ARGV[1]
local q = ARGV[2]
local now = ARGV[3]
local events_maxlen = ARGV[4]

local pending = q .. ":pending"
local delayed = q .. ":delayed"
local completed = q .. ":completed"
local dlq = q .. ":dlq"
local tasks = q .. ":tasks"
local workers = q .. ":workers"
local events = q .. ":events"

local function task_key(id) return q .. ":task:" .. id end
local function result_key(id) return q .. ":result:" .. id end
local function processing_key(w) return q .. ":processing:" .. w end
local function heartbeat_key(w) return q .. ":worker:" .. w end

-- Append one event to the stream; `fields` is a flat list {name, value, ...}.
local function emit(event, fields)
    local entry = {"XADD", events, "MAXLEN", "~", events_maxlen, "*", "event", event, "ts", now}
    for i = 1, #fields do entry[#entry + 1] = fields[i] end
    redis.call(unpack(entry))
end

-- Keep one more entry of error history on the task hash (fields error:1, error:2, ...).
local function remember_error(id, entry)
    local n = redis.call("HINCRBY", task_key(id), "history", 1)
    redis.call("HSET", task_key(id), "error:" .. n, entry)
end

-- Put a task in the dead-letter queue, with the reason, for a person to look at.
local function dead_letter(id, worker, attempt, reason)
    redis.call("HSET", task_key(id), "status", "failed", "reason", reason,
               "finished_at", now, "dead_at", now)
    redis.call("LPUSH", dlq, id)
    emit("dead_lettered", {"task", id, "worker", worker, "attempt", attempt, "reason", reason})
end

local function attempts_of(id) return tonumber(redis.call("HGET", task_key(id), "attempts")) or 0 end
local function max_attempts_of(id)
    return tonumber(redis.call("HGET", task_key(id), "max_attempts")) or 0
end

-- Did the server delete keys on its own to make room? (INFO is readable from a script;
-- CONFIG GET is not.) A record that vanished on such a server was evicted.
local function eviction_note()
    local policy = string.match(redis.call("INFO", "memory"), "maxmemory_policy:([%w%-]+)") or "?"
    local evicted = tonumber(string.match(redis.call("INFO", "stats"), "evicted_keys:(%d+)")) or 0
    if evicted > 0 or string.find(policy, "lru") or string.find(policy, "lfu")
            or string.find(policy, "random") or policy == "volatile-ttl" then
        return "LOST TO EVICTION: the server's maxmemory-policy is " .. policy .. " and it has " ..
               "evicted " .. evicted .. " key(s) to make room; use noeviction for a queue"
    end
    return nil
end

-- An id with no task behind it (evicted, or pushed into pending by hand), found in a
-- worker's list: move it to the DLQ with a record that says which, instead of failing
-- on it again and again.
local function quarantine(id, worker)
    local key = task_key(id)
    local why = eviction_note() or ("was it pushed into " .. pending .. " by hand?")
    redis.call("LREM", processing_key(worker), 1, id)
    redis.call("SADD", tasks, id)
    redis.call("HSET", key, "id", id, "type", "unknown", "data", "null",
               "attempts", 0, "max_attempts", 0, "created_at", now, "history", 0)
    dead_letter(id, worker, 0, "no task record " .. key .. " for this id (" .. why .. ")")
end

-- The fields a script does arithmetic on, checked before anything is written (a
-- hash edited by hand may hold "abc" there): nil if all are whole numbers, else the
-- first bad field and its value.
local function malformed_field(key)
    local values = redis.call("HMGET", key, "attempts", "max_attempts", "history", "replays")
    local names = {"attempts", "max_attempts", "history", "replays"}
    for i = 1, #names do
        local v = values[i]
        if v and not string.match(v, "^%d+$") then return names[i], v end
    end
    return nil
end

-- Dead-letter a task whose record cannot be worked with, naming the field; the
-- counters are reset to numbers so that every later command can read them.
local function dead_letter_malformed(id, worker, field, value)
    redis.call("LREM", processing_key(worker), 1, id)
    redis.call("HSET", task_key(id), "attempts", 0, "max_attempts", 0, "history", 0,
               "replays", 0, "bad_" .. field, value)
    dead_letter(id, worker, 0, "malformed task record: field '" .. field .. "' is " ..
                string.format("%q", string.sub(value, 1, 40)) .. ", not a whole number " ..
                "(was the hash edited by hand?)")
end

-- The registered workers plus any extra ids given in ARGV[5...] (owners of processing
-- lists found outside the registry), without duplicates.
local function candidate_workers()
    local seen, list = {}, {}
    local registered = redis.call("ZRANGE", workers, 0, -1)
    for i = 1, #registered do seen[registered[i]] = true; list[#list + 1] = registered[i] end
    for i = 5, #ARGV do
        if not seen[ARGV[i]] then seen[ARGV[i]] = true; list[#list + 1] = ARGV[i] end
    end
    return list
end


if command == "enqueue" then
    -- ARGS: id, type, data (JSON text), max_attempts
    local id, kind, data, max_attempts = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
    if redis.call("SADD", tasks, id) == 0 then
        return 0  -- an id is used once: refuse rather than overwrite a task
    end
    redis.call("HSET", task_key(id), "id", id, "type", kind, "data", data,
               "status", "pending", "attempts", 0, "max_attempts", max_attempts,
               "created_at", now, "history", 0)
    redis.call("LPUSH", pending, id)
    emit("enqueued", {"task", id, "type", kind})
    return 1


elseif command == "claim" then
    -- The worker's BLMOVE has already moved the id from pending into its own
    -- processing list: that move is the atomic claim, and the list records the
    -- owner. This counts the attempt, stamps the task, registers the worker and
    -- refreshes its heartbeat (claiming work is a sign of life).
    -- ARGS: worker, id, heartbeat_ttl_ms
    local worker, id, ttl_ms = ARGV[5], ARGV[6], ARGV[7]
    local key = task_key(id)
    redis.call("ZADD", workers, now, worker)
    redis.call("SET", heartbeat_key(worker), now, "PX", ttl_ms)
    if redis.call("EXISTS", key) == 0 then
        quarantine(id, worker)
        return {"quarantined"}
    end
    -- Refused: an id that is already finished (completed, dead-lettered) was pushed into
    -- pending again; running it would do its work a second time.
    local status_now = redis.call("HGET", key, "status")
    if status_now == "completed" or status_now == "failed" or status_now == "dead_lettered" then
        redis.call("LREM", processing_key(worker), 1, id)
        emit("claim_refused", {"task", id, "worker", worker, "status", status_now,
                               "reason", "the id was pushed into pending again"})
        return {"refused", status_now}
    end
    local bad_field, bad_value = malformed_field(key)
    if bad_field then
        dead_letter_malformed(id, worker, bad_field, bad_value)
        return {"malformed", bad_field}
    end
    -- Counted at the claim: if this worker dies, the attempt is already used up.
    local attempt = redis.call("HINCRBY", key, "attempts", 1)
    redis.call("HSET", key, "status", "processing", "worker_id", worker, "started_at", now)
    redis.call("HDEL", key, "due_at")
    emit("claimed", {"task", id, "worker", worker, "attempt", attempt})
    local fields = redis.call("HMGET", key, "type", "data", "max_attempts")
    return {"claimed", fields[1], fields[2], attempt, fields[3]}


elseif command == "complete" then
    -- The fence: complete only if LREM removed the id from THIS worker's list.
    -- If the reaper gave the task to someone else, the list no longer has it and
    -- nothing is written: a paused worker that wakes up cannot overwrite anything.
    -- ARGS: worker, id, then the result as field, value, field, value...
    local worker, id = ARGV[5], ARGV[6]
    local key = task_key(id)
    if redis.call("LREM", processing_key(worker), 1, id) == 0 then
        local status, owner = unpack(redis.call("HMGET", key, "status", "worker_id"))
        if status == "completed" and owner == worker then
            return "already"  -- our own earlier call got through; only its reply was lost
        end
        emit("completion_refused", {"task", id, "worker", worker})
        return "refused"
    end
    local attempt = attempts_of(id)
    redis.call("HSET", key, "status", "completed", "finished_at", now, "worker_id", worker)
    if #ARGV > 6 then
        redis.call("HSET", result_key(id), unpack(ARGV, 7))
    end
    redis.call("RPUSH", completed, id)
    emit("completed", {"task", id, "worker", worker, "attempt", attempt})
    return "completed"


elseif command == "fail" then
    -- An attempt raised an error (already counted at the claim). Either schedule
    -- a retry in the delayed ZSET or, for a permanent error or the last allowed
    -- attempt, dead-letter the task. Fenced like "complete".
    -- ARGS: worker, id, error, permanent ("1"/"0"), retry delay (s), history entry (JSON)
    local worker, id, err, permanent, delay, entry =
        ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
    local key = task_key(id)
    if redis.call("LREM", processing_key(worker), 1, id) == 0 then
        emit("completion_refused", {"task", id, "worker", worker})
        return {"refused"}
    end
    local attempts = attempts_of(id)
    local max_attempts = max_attempts_of(id)
    redis.call("HSET", key, "error", err)
    remember_error(id, entry)
    emit("failed", {"task", id, "worker", worker, "attempt", attempts, "error", err})
    if permanent == "1" then
        dead_letter(id, worker, attempts, "permanent error, not retried: " .. err)
        return {"failed"}
    end
    if attempts >= max_attempts then
        dead_letter(id, worker, attempts, "failed " .. attempts .. " of " .. max_attempts ..
                    " attempts; last error: " .. err)
        return {"failed"}
    end
    local due = tonumber(now) + tonumber(delay)
    redis.call("HSET", key, "status", "delayed", "due_at", tostring(due))
    redis.call("ZADD", delayed, due, id)
    emit("retry_scheduled", {"task", id, "worker", worker, "attempt", attempts,
                             "delay", delay, "due", tostring(due)})
    return {"retry", tostring(due)}


elseif command == "requeue" then
    -- A worker gives a task back unfinished (a second Ctrl+C). Not the task's
    -- fault, so the attempt is given back too; the task goes to the head of
    -- the line (RPUSH: the end that BLMOVE takes from).
    -- ARGS: worker, id, reason
    local worker, id, reason = ARGV[5], ARGV[6], ARGV[7]
    if redis.call("LREM", processing_key(worker), 1, id) == 0 then
        return 0
    end
    local attempt = attempts_of(id)
    local status, owner = unpack(redis.call("HMGET", task_key(id), "status", "worker_id"))
    if status == "processing" and owner == worker then
        -- (only if our claim was recorded: an id whose claim reply was lost has no attempt to give back)
        redis.call("HINCRBY", task_key(id), "attempts", -1)
        attempt = attempt - 1
    end
    redis.call("HSET", task_key(id), "status", "pending", "worker_id", "")
    redis.call("RPUSH", pending, id)
    emit("requeued", {"task", id, "worker", worker, "attempt", attempt, "reason", reason})
    return 1


elseif command == "reap" then
    -- The reaper. For every candidate worker whose heartbeat key has expired
    -- (Redis deleted it: no clocks of ours are compared), hand its in-flight
    -- tasks back. Each lost attempt stays counted, and a task that has used up
    -- its attempts goes to the DLQ instead: a task that kills every worker that
    -- runs it cannot loop forever.
    -- ARGS: extra worker ids to check besides the registry (owners of processing
    -- lists found by the caller's SCAN). Returns a flat list: worker, task id,
    -- "requeued" | "failed", ...

    -- One in-flight task of a dead worker: requeue it, or dead-letter it.
    local function recover(id, worker)
        local key = task_key(id)
        if redis.call("EXISTS", key) == 0 then
            quarantine(id, worker)
            return "failed"
        end
        local attempts = attempts_of(id)  -- counted at the claim: the lost attempt is in it
        local max_attempts = max_attempts_of(id)
        local err = "worker " .. worker .. " was lost (its heartbeat expired) " ..
                    "during attempt " .. attempts
        redis.call("HSET", key, "error", err)
        remember_error(id, cjson.encode({attempt = attempts, at = tonumber(now),
                                         worker = worker, error = err}))
        if attempts >= max_attempts then
            dead_letter(id, worker, attempts, "its worker was lost in " .. attempts ..
                        " of " .. max_attempts .. " attempts: a task that kills its worker?")
            return "failed"
        end
        redis.call("HSET", key, "status", "pending", "worker_id", "")
        redis.call("RPUSH", pending, id)  -- the head of the line: it has waited enough
        emit("requeued", {"task", id, "worker", worker, "attempt", attempts,
                          "reason", "worker lost"})
        return "requeued"
    end

    local report = {}
    for _, worker in ipairs(candidate_workers()) do
        if redis.call("EXISTS", heartbeat_key(worker)) == 0 then
            local in_flight = redis.call("LRANGE", processing_key(worker), 0, -1)
            for _, id in ipairs(in_flight) do
                report[#report + 1] = worker
                report[#report + 1] = id
                report[#report + 1] = recover(id, worker)
            end
            redis.call("DEL", processing_key(worker))
            if redis.call("ZREM", workers, worker) == 1 or #in_flight > 0 then
                emit("worker_lost", {"worker", worker, "tasks", #in_flight})
            end
        end
    end
    return report


elseif command == "promote" then
    -- Move retries whose time has come from the delayed ZSET to pending.
    -- ARGS: limit (at most this many per call, so one call stays short)
    local due = redis.call("ZRANGEBYSCORE", delayed, "-inf", now, "LIMIT", 0, ARGV[5])
    for _, id in ipairs(due) do
        redis.call("ZREM", delayed, id)
        redis.call("HSET", task_key(id), "status", "pending", "worker_id", "")
        redis.call("HDEL", task_key(id), "due_at")
        redis.call("LPUSH", pending, id)
        emit("requeued", {"task", id, "attempt", attempts_of(id), "reason", "retry due"})
    end
    return #due


elseif command == "replay" then
    -- Send a dead-lettered task round again with a fresh set of attempts (after
    -- the cause was fixed). Its error history stays on the hash.
    -- ARGS: id
    local id = ARGV[5]
    if redis.call("LREM", dlq, 1, id) == 0 then
        return 0
    end
    local key = task_key(id)
    redis.call("HSET", key, "status", "pending", "attempts", 0, "worker_id", "")
    redis.call("HDEL", key, "reason", "dead_at", "finished_at")
    redis.call("HINCRBY", key, "replays", 1)
    redis.call("LPUSH", pending, id)
    emit("requeued", {"task", id, "attempt", 0, "reason", "replayed from the DLQ"})
    return 1


elseif command == "purge" then
    -- Delete every dead-lettered task for good (and forget its id).
    local ids = redis.call("LRANGE", dlq, 0, -1)
    for _, id in ipairs(ids) do
        redis.call("DEL", task_key(id), result_key(id))
        redis.call("SREM", tasks, id)
    end
    redis.call("DEL", dlq)
    emit("dlq_purged", {"tasks", #ids})
    return #ids


elseif command == "heartbeat" then
    -- "I am alive": refresh the key's TTL and the registry's last-seen time.
    -- Returns 0 if the key had already expired, so a worker that was paused
    -- past its TTL learns that the reaper may have taken its tasks.
    -- ARGS: worker, ttl_ms
    local worker, ttl_ms = ARGV[5], ARGV[6]
    local existed = redis.call("EXISTS", heartbeat_key(worker))
    redis.call("SET", heartbeat_key(worker), now, "PX", ttl_ms)
    redis.call("ZADD", workers, now, worker)
    return existed


elseif command == "register" then
    -- A worker starts: its first heartbeat, plus a worker_started event.
    -- ARGS: worker, ttl_ms, pid, host
    local worker, ttl_ms = ARGV[5], ARGV[6]
    redis.call("SET", heartbeat_key(worker), now, "PX", ttl_ms)
    redis.call("ZADD", workers, now, worker)
    emit("worker_started", {"worker", worker, "pid", ARGV[7], "host", ARGV[8]})
    return 1


elseif command == "stopping" then
    -- A worker got a stop signal and will leave after its current task.
    -- ARGS: worker
    emit("worker_stopping", {"worker", ARGV[5]})
    return 1


elseif command == "deregister" then
    -- A worker leaves politely. Only with an empty processing list: anything
    -- still in it stays visible to the reaper once the heartbeat expires.
    -- ARGS: worker
    local worker = ARGV[5]
    if redis.call("LLEN", processing_key(worker)) > 0 then
        return 0
    end
    redis.call("DEL", heartbeat_key(worker))
    redis.call("ZREM", workers, worker)
    emit("worker_stopped", {"worker", worker})
    return 1


elseif command == "counts" then
    -- Every count at one instant, so the conservation check never catches a
    -- task between two keys. ARGS: extra worker ids, as for "reap".
    -- Returns: tasks, pending, delayed, completed, dlq, then worker, in flight, ...
    local result = {redis.call("SCARD", tasks), redis.call("LLEN", pending),
                    redis.call("ZCARD", delayed), redis.call("LLEN", completed),
                    redis.call("LLEN", dlq)}
    for _, worker in ipairs(candidate_workers()) do
        result[#result + 1] = worker
        result[#result + 1] = redis.call("LLEN", processing_key(worker))
    end
    return result
end

return redis.error_reply("unknown queue.lua command: " .. tostring(command))
