-- Session 8's atomic steps: the scheduler's lease, workflow counters (and the nodes they
-- stage), progress.
--
-- One script, one branch per command: it is small and off the hot path (session 5's
-- queue.lua, which this script never edits, is sent as one script per command). It only
-- adds keys of its own next to the queue's, under the same {q} hash tag, and appends to
-- the queue's event stream.
--
-- ARGV[1] command, ARGV[2] now (the caller's clock), ARGV[3] events_maxlen, then the
-- command's own arguments. Every command receives in KEYS the keys it touches.
-- Every command reads and checks before its first write: a script that errors
-- half-way keeps what it wrote (Redis does not roll back).

local command, now, events_maxlen = ARGV[1], ARGV[2], ARGV[3]

local function emit(events, event, fields)
    local entry = {"XADD", events, "MAXLEN", "~", events_maxlen, "*", "event", event, "ts", now}
    for i = 1, #fields do entry[#entry + 1] = fields[i] end
    redis.call(unpack(entry))  -- our own fields only: never more than a dozen
end


if command == "unstage" then
    -- Forget a staged workflow node after it was enqueued (or refused as a duplicate:
    -- it is there already).
    -- KEYS: staged, staged_data. ARGS: id. REPLY: {"unstaged", 0|1}
    local removed = redis.call("ZREM", KEYS[1], ARGV[4])
    redis.call("HDEL", KEYS[2], ARGV[4])
    return {"unstaged", removed}


elseif command == "lease_acquire" then
    -- Become the leader if nobody is: SET NX with a TTL (Redis's clock decides expiry).
    -- KEYS: leader, events. ARGS: token, ttl_ms, who
    -- REPLY: {"leader"} (taken now, or already ours) | {"follower", holder}
    local holder = redis.call("GET", KEYS[1])
    if holder == ARGV[4] then
        redis.call("PEXPIRE", KEYS[1], ARGV[5])
        return {"leader"}
    end
    if holder then return {"follower", holder} end
    redis.call("SET", KEYS[1], ARGV[4], "PX", ARGV[5])
    emit(KEYS[2], "leader_elected", {"scheduler", ARGV[6]})
    return {"leader"}


elseif command == "lease_renew" then
    -- Extend the lease only if it is still ours (the fence: a leader that was frozen
    -- past the TTL finds another token there and must stop acting as leader).
    -- KEYS: leader. ARGS: token, ttl_ms. REPLY: {"renewed"} | {"lost", holder or ""}
    local holder = redis.call("GET", KEYS[1])
    if holder ~= ARGV[4] then return {"lost", holder or ""} end
    redis.call("PEXPIRE", KEYS[1], ARGV[5])
    return {"renewed"}


elseif command == "lease_release" then
    -- Give the lease up at a clean exit, only if it is ours. KEYS: leader. ARGS: token.
    -- REPLY: {"released", 0|1}
    if redis.call("GET", KEYS[1]) ~= ARGV[4] then return {"released", 0} end
    redis.call("DEL", KEYS[1])
    return {"released", 1}


elseif command == "mark_fired" then
    -- Record that a schedule's due times up to `due` are handled, fenced by the lease.
    -- KEYS: leader, last_due (HASH name -> due). ARGS: token, name, due
    -- REPLY: {"marked"} | {"not_leader"}
    if redis.call("GET", KEYS[1]) ~= ARGV[4] then return {"not_leader"} end
    local last = tonumber(redis.call("HGET", KEYS[2], ARGV[5]) or "-inf")
    if tonumber(ARGV[6]) > last then redis.call("HSET", KEYS[2], ARGV[5], ARGV[6]) end
    return {"marked"}


elseif command == "wf_start" then
    -- Write a workflow and stage its first nodes, all or nothing.
    -- KEYS: meta, waiting, staged, staged_data, running (SET), events
    -- ARGS: workflow id, policy, spec (JSON), node count, then per node: node, task id,
    --       parents (how many nodes it waits for)
    -- REPLY: {"started", staged...} | {"duplicate"}
    local wid, policy, spec, count = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
    if redis.call("EXISTS", KEYS[1]) == 1 then return {"duplicate"} end
    redis.call("HSET", KEYS[1], "id", wid, "state", "running", "policy", policy, "spec", spec,
               "nodes", count, "remaining", count, "created_at", now)
    local staged = {"started"}
    for i = 0, count - 1 do
        local node, task_id, parents = ARGV[8 + 3 * i], ARGV[9 + 3 * i], tonumber(ARGV[10 + 3 * i])
        redis.call("HSET", KEYS[2], node, parents)
        if parents == 0 then
            redis.call("ZADD", KEYS[3], now, task_id)
            redis.call("HSET", KEYS[4], task_id, cjson.encode({workflow = wid, node = node}))
            staged[#staged + 1] = task_id
        end
    end
    redis.call("SADD", KEYS[5], wid)
    emit(KEYS[6], "workflow_started", {"workflow", wid, "nodes", count})
    return staged


elseif command == "wf_done" then
    -- A node finished: record its result once; count it off each dependent node; a
    -- dependent whose count reaches zero is staged IN THIS SAME STEP (the chord's
    -- callback: exactly once, since only the first record of each node counts).
    -- KEYS: meta, results, waiting, staged, staged_data, running, events
    -- ARGS: workflow id, node, result (JSON), failed (0|1: "continue" policy's record),
    --       then per dependent: node, task id
    -- REPLY: {"recorded"|"already"|"unknown", state, remaining, staged...}
    local wid, node, result = ARGV[4], ARGV[5], ARGV[6]
    local state = redis.call("HGET", KEYS[1], "state")
    if not state then return {"unknown", "", 0} end
    if redis.call("HSETNX", KEYS[2], node, result) == 0 then
        return {"already", state, redis.call("HGET", KEYS[1], "remaining")}
    end
    local remaining = redis.call("HINCRBY", KEYS[1], "remaining", -1)
    if ARGV[7] == "1" then redis.call("HINCRBY", KEYS[1], "failed", 1) end
    local reply = {"recorded", state, remaining}
    if state == "running" then
        for i = 8, #ARGV, 2 do
            local dependent, task_id = ARGV[i], ARGV[i + 1]
            if redis.call("HINCRBY", KEYS[3], dependent, -1) == 0 then
                redis.call("ZADD", KEYS[4], now, task_id)
                redis.call("HSET", KEYS[5], task_id, cjson.encode({workflow = wid, node = dependent}))
                reply[#reply + 1] = task_id
            end
        end
        local total = redis.call("HGET", KEYS[1], "nodes")
        emit(KEYS[7], "workflow_progress", {"workflow", wid, "done", total - remaining,
                                            "total", total})
        if remaining == 0 then
            redis.call("HSET", KEYS[1], "state", "completed", "finished_at", now)
            redis.call("SREM", KEYS[6], wid)
            emit(KEYS[7], "workflow_completed", {"workflow", wid})
            reply[2] = "completed"
        end
    end
    return reply


elseif command == "wf_fail" then
    -- A node can no longer finish (dead-lettered, cancelled) and the policy is "fail":
    -- record why, end the workflow. Its dependents are never staged.
    -- KEYS: meta, results, running, events. ARGS: workflow id, node, failure (JSON), reason
    -- REPLY: {"failed"|"already"|"unknown", state}
    local wid, node = ARGV[4], ARGV[5]
    local state = redis.call("HGET", KEYS[1], "state")
    if not state then return {"unknown", ""} end
    if redis.call("HSETNX", KEYS[2], node, ARGV[6]) == 0 then return {"already", state} end
    redis.call("HINCRBY", KEYS[1], "remaining", -1)
    redis.call("HINCRBY", KEYS[1], "failed", 1)
    if state == "running" then
        redis.call("HSET", KEYS[1], "state", "failed", "reason", ARGV[7], "finished_at", now)
        redis.call("SREM", KEYS[3], wid)
        emit(KEYS[4], "workflow_failed", {"workflow", wid, "node", node, "reason", ARGV[7]})
        state = "failed"
    end
    return {"failed", state}


elseif command == "progress" then
    -- A running task reports how far it is: on its record and in the event stream,
    -- only while it is still in this worker's list (a zombie's report is refused).
    -- KEYS: task hash, the worker's processing list, events
    -- ARGS: task id, worker, done, total, message
    -- REPLY: {"reported"} | {"refused"}
    if not redis.call("LPOS", KEYS[2], ARGV[4]) then return {"refused"} end
    redis.call("HSET", KEYS[1], "progress_done", ARGV[6], "progress_total", ARGV[7],
               "progress_message", ARGV[8], "progress_at", now)
    emit(KEYS[3], "progress", {"task", ARGV[4], "worker", ARGV[5], "done", ARGV[6],
                               "total", ARGV[7], "message", ARGV[8]})
    return {"reported"}
end

return redis.error_reply("unknown command " .. tostring(command))
