// The dashboard: one Server-Sent Events stream (/dashboard/stream) redraws the page.
// "state" messages carry the counts, workers, DLQ and throughput; "queue" messages are
// the queue's events, one by one, with their sentence. Actions go through the API.
"use strict";

const { el, call, clock, taskLink, confirmAction } = Dash;
const $ = (id) => document.getElementById(id);
const TASKS_PAGE = 20;
const FEED_KEPT = 40;

let paused = false;
let lastEventId = "0-0";
// The tasks table pages through GET /tasks with its cursor; "Newer" goes back up the stack.
let cursors = [null];

// Stream ids are "milliseconds-sequence": compare them as two numbers, not as text.
function newer(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am > bm || (am === bm && as > bs);
}

function fail(where, error) {
  $(where).textContent = error instanceof Dash.ApiError ? `refused: ${error.detail}` : String(error);
}

// --- state: counts, workers, DLQ, throughput -----------------------------------------

function drawCounts(state) {
  for (const [name, value] of Object.entries(state.counts)) {
    const cell = $(`count-${name}`);
    if (cell) cell.textContent = value.toLocaleString("en");
  }
  for (const [priority, value] of Object.entries(state.pending_by_priority)) {
    $(`count-pending-${priority}`).textContent = value.toLocaleString("en");
  }
}

function drawPause(state) {
  paused = state.paused;
  $("paused-badge").hidden = !paused;
  const button = $("pause-button");
  button.textContent = paused ? "Resume the queue" : "Pause the queue";
  $("pause-note").textContent = paused ? "workers finish what they hold and claim nothing" : "";
}

function heartbeat(worker) {
  if (worker.state === "lost") {
    const n = worker.tasks_at_loss || 0;
    return `LOST: heartbeat expired, ${n} task${n === 1 ? "" : "s"} taken back`;
  }
  if (worker.heartbeat_age === null) return `expired (TTL ${worker.ttl} s): being reaped`;
  return el("span", {},
    el("meter", { min: 0, max: worker.ttl, low: worker.ttl * 0.5, high: worker.ttl * 0.8,
                  optimum: 0, value: worker.heartbeat_age.toFixed(2),
                  "aria-label": `heartbeat age of ${worker.worker_id}` }),
    ` ${worker.heartbeat_age.toFixed(1)} s of ${worker.ttl} s`);
}

function drawWorkers(workers) {
  const rows = workers.map((w) => el("tr", { class: w.state, "data-worker": w.worker_id },
    el("th", { scope: "row" }, w.worker_id),
    el("td", {}, w.pid ?? "?"),
    el("td", { class: "state" }, w.state),
    el("td", {}, heartbeat(w)),
    el("td", {}, ...w.in_flight.map(taskLink)),
    el("td", {}, w.done)));
  $("workers").tBodies[0].replaceChildren(...rows);
  $("workers-empty").hidden = workers.length > 0;
}

function drawChart(perSecond) {
  const peak = Math.max(1, ...perSecond);
  const height = 60;
  const bars = perSecond.map((n, i) => {
    const h = (n / peak) * (height - 2);
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("x", i);
    bar.setAttribute("y", height - h);
    bar.setAttribute("width", 0.9);
    bar.setAttribute("height", h);
    return bar;
  });
  $("chart").replaceChildren(...bars);
  const total = perSecond.reduce((a, b) => a + b, 0);
  const last10 = perSecond.slice(-10).reduce((a, b) => a + b, 0) / 10;
  $("chart-summary").textContent = total === 0 ? "no completions in the last 3 minutes" :
    `${total.toLocaleString("en")} completed in the last 3 minutes; peak ${peak}/s; ` +
    `${last10.toFixed(1)}/s over the last 10 s`;
}

function drawDlq(dlq, count) {
  const rows = dlq.map((t) => el("tr", { "data-task": t.id },
    el("th", { scope: "row" }, taskLink(t.id)),
    el("td", {}, t.reason || ""),
    el("td", {}, t.error || ""),
    el("td", {}, t.attempts),
    el("td", {}, el("button", { type: "button", "aria-label": `Replay task ${t.id}`,
                                onclick: () => replay(t.id) }, "Replay"))));
  $("dlq").tBodies[0].replaceChildren(...rows);
  $("purge-button").disabled = count === 0;
  if (count > dlq.length) $("dlq-note").textContent = `the newest ${dlq.length} of ${count}`;
}

// --- progress: one bar per running task that reports it, one per workflow --------------
// Each report changes its own bar (two attributes and a text); nothing else is redrawn.

const WORKFLOWS_KEPT = 5;  // finished workflows left on the page, newest first

function progressText(p) {
  return `${p.done.toLocaleString("en")} / ${p.total.toLocaleString("en")}` +
    (p.message ? ` ${p.message}` : "");
}

function bar(list, key, id, label, first) {
  let item = list.querySelector(`li[${key}="${CSS.escape(id)}"]`);
  if (!item) {
    item = el("li", { [key]: id }, first,
      el("progress", { max: 1, value: 0, "aria-label": label }), el("span", { class: "text" }));
    list.prepend(item);
    $("progress-empty").hidden = true;
  }
  return item;
}

// at: when the report was made (Redis's clock); an older one (a state message computed
// before the latest event) does not move a bar back.
function drawTaskProgress(taskId, p, at) {
  const item = bar($("task-progress"), "data-progress-task", taskId,
                   `progress of task ${taskId}`, taskLink(taskId));
  if (Number(item.dataset.at || 0) > at) return;
  item.dataset.at = at;
  const meter = item.querySelector("progress");
  meter.max = Math.max(1, p.total);
  meter.value = p.done;
  item.querySelector(".text").textContent = progressText(p);
}

function endTaskProgress(taskId) {
  const item = $("task-progress").querySelector(`li[data-progress-task="${CSS.escape(taskId)}"]`);
  if (item) item.remove();
}

function drawWorkflowProgress(p) {
  const list = $("workflow-progress");
  const item = bar(list, "data-progress-workflow", p.workflow,
                   `tasks finished in workflow ${p.workflow}`, el("span", {}, `workflow ${p.workflow}`));
  const meter = item.querySelector("progress");
  const text = item.querySelector(".text");
  if (p.finished) {
    item.className = p.finished;
    if (p.finished === "completed") meter.value = meter.max;
    text.textContent = p.finished + (p.reason ? `: ${p.reason}` : "");
    const ended = [...list.querySelectorAll("li.completed, li.failed")];
    ended.slice(WORKFLOWS_KEPT).forEach((old) => old.remove());
    return;
  }
  if (item.className) return;  // already finished: a late report changes nothing
  meter.max = Math.max(1, p.total);
  meter.value = p.done;
  text.textContent = `${progressText(p)} tasks finished`;
}

function drawDataLost(notice) {
  const banner = $("data-lost-banner");
  if (!notice) return;
  const n = notice.resent;
  banner.textContent = `Redis came back empty (it lost the queue's data at ` +
    `${clock(notice.noticed_at)}): ${n} unfinished task${n === 1 ? " was" : "s were"} ` +
    "re-sent from the database, each under its own id" +
    (notice.paused_again ? ", and the queue was paused again as it was before." : ".");
  banner.hidden = false;
}

function drawState(state) {
  drawCounts(state);
  drawDataLost(state.data_lost);
  for (const [taskId, p] of Object.entries(state.progress || {})) drawTaskProgress(taskId, p, p.at);
  drawPause(state);
  drawWorkers(state.workers);
  drawChart(state.throughput);
  drawDlq(state.dlq, state.counts.dead_lettered);
  if (!$("submit-sample").options.length) {
    $("submit-sample").replaceChildren(...state.samples.map((s) => el("option", { value: s }, s)));
  }
  if (Dash.metrics.firstState === null) Dash.metrics.firstState = performance.now();
}

// --- the feed of events ----------------------------------------------------------------

const BAR_ONLY = ["progress", "workflow_progress"];  // many per task: a bar, not feed lines

function showEvent(event) {
  if (!newer(event.id, lastEventId)) return; // already shown (after a reconnect)
  lastEventId = event.id;
  if (event.progress && event.progress.workflow) drawWorkflowProgress(event.progress);
  else if (event.progress) drawTaskProgress(event.progress.task, event.progress, event.ts);
  else if (event.task && event.status && event.status !== "processing") endTaskProgress(event.task);
  if (event.event === "data_lost" && $("data-lost-banner").hidden) {
    $("data-lost-banner").textContent = `Redis came back empty: ${event.text}. ` +
      "Unfinished tasks are being re-sent from the database.";
    $("data-lost-banner").hidden = false;
  }
  if (BAR_ONLY.includes(event.event) && event.progress) return;
  const item = el("li", { class: `ev-${event.event}`, "data-event": event.event },
    el("time", {}, clock(event.ms / 1000)), " ",
    event.task ? taskLink(event.task) : null, event.task ? " " : null,
    event.text);
  $("feed").prepend(item);
  while ($("feed").children.length > FEED_KEPT) $("feed").lastElementChild.remove();
  Dash.eventShown(event.ms);
  if (["enqueued", "claimed", "completed", "dead_lettered", "requeued", "replayed", "cancelled"]
      .includes(event.event)) {
    tasksChanged(event);
  }
}

// --- the tasks table -------------------------------------------------------------------

let refreshSoon = null;
let refreshAfter = [];
// The table comes from the database, which hears of an event a moment after Redis. An
// event updates its row on the screen at once; the table is then reloaded at most once a
// second during a burst, and twice after the last event (the database has caught up).
function tasksChanged(event) {
  const row = event.task && document.querySelector(`#tasks tr[data-task="${CSS.escape(event.task)}"]`);
  if (row && event.status) {
    row.className = event.status;
    row.querySelector(".status").textContent = event.status;
    if (event.event === "claimed") row.cells[5].textContent = event.worker || "";
  }
  if (cursors.length > 1) return; // an older page: new tasks do not appear on it
  refreshAfter.forEach(clearTimeout);
  refreshAfter = [setTimeout(loadTasks, 400), setTimeout(loadTasks, 2000)];
  if (refreshSoon === null) {
    refreshSoon = setTimeout(() => { refreshSoon = null; loadTasks(); }, 1000);
  }
}

function taskAction(task) {
  if (task.status !== "pending") return "";
  return el("button", { type: "button", "aria-label": `Cancel task ${task.id}`,
                        onclick: () => cancelTask(task.id) }, "Cancel");
}

async function loadTasks() {
  const params = new URLSearchParams({ limit: TASKS_PAGE });
  const status = $("tasks-status").value;
  if (status) params.set("status", status);
  const cursor = cursors[cursors.length - 1];
  if (cursor) params.set("cursor", cursor);
  try {
    const page = await call("GET", `/tasks?${params}`);
    const rows = page.items.map((t) => el("tr", { "data-task": t.id, class: t.status },
      el("th", { scope: "row" }, taskLink(t.id)),
      el("td", { class: "status" }, t.status),
      el("td", {}, t.priority),
      el("td", { title: t.image }, t.image_name || t.image),  // the uploaded name, as text
      el("td", {}, t.attempts),
      el("td", {}, t.worker_id || ""),
      el("td", {}, clock(t.created_at)),
      el("td", {}, taskAction(t))));
    $("tasks").tBodies[0].replaceChildren(...rows);
    $("tasks").dataset.nextCursor = page.next_cursor || "";
    $("tasks-older").disabled = !page.next_cursor;
    $("tasks-newer").disabled = cursors.length === 1;
    $("tasks-note").textContent = rows.length ? `page ${cursors.length}` : "no tasks here yet";
  } catch (error) {
    fail("tasks-note", error);
  }
}

// --- actions, through the API ------------------------------------------------------------

function filterSpecs(form) {
  const specs = [];
  if (form.blur.checked) specs.push(`blur:radius=${form.blur_radius.value}`);
  if (form.brightness.checked) specs.push(`brightness:factor=${form.brightness_factor.value}`);
  if (form.edges.checked) specs.push("edges");
  if (form.grayscale.checked) specs.push("grayscale");
  const times = Math.max(1, Number(form.repeat.value) || 1);
  return Array.from({ length: times }, () => specs).flat();
}

async function submitTask(event) {
  event.preventDefault();
  const form = event.target;
  const result = $("submit-result");
  result.textContent = "sending...";
  try {
    let image = form.sample.value;
    let shown = image;  // the name the person chose: an upload is stored under a new id
    if (form.file.files.length) {
      const upload = new FormData();
      upload.append("file", form.file.files[0]);
      const stored = await call("POST", "/images", { form: upload });
      image = stored.id;
      shown = stored.name || image;  // the server's cleaned copy of the file's name
    }
    const task = await call("POST", "/tasks",
      { json: { image, filters: filterSpecs(form), priority: form.priority.value } });
    // No status here: this line is written once, and the feed and the task's page follow
    // the task from now on (a "(pending)" that never changed would mislead).
    result.replaceChildren(`Accepted: ${shown} as task `, taskLink(task.id),
      ". Follow it in the feed, or open its page.");
    result.dataset.task = task.id;
  } catch (error) {
    fail("submit-result", error);
  }
}

async function cancelTask(id) {
  try {
    await call("DELETE", `/tasks/${id}`);
    $("tasks-note").textContent = `task ${Dash.shortId(id)} cancelled`;
  } catch (error) {
    fail("tasks-note", error);
  }
  loadTasks();
}

async function togglePause() {
  try {
    await call("POST", paused ? "/queue/resume" : "/queue/pause");
  } catch (error) {
    fail("pause-note", error);
  }
}

async function replay(id) {
  try {
    await call("POST", `/dlq/${id}/replay`);
    $("dlq-note").textContent = `task ${Dash.shortId(id)} is pending again`;
  } catch (error) {
    fail("dlq-note", error);
  }
}

async function purge() {
  const count = $("count-dead_lettered").textContent;
  const sure = await confirmAction(`Delete the ${count} dead-lettered task(s) from Redis for ` +
    "good? Their database rows stay; they cannot be replayed after this.");
  if (!sure) return;
  try {
    const done = await call("DELETE", "/dlq");
    $("dlq-note").textContent = `purged ${done.purged} task(s)`;
  } catch (error) {
    fail("dlq-note", error);
  }
}

// --- the stream ----------------------------------------------------------------------------

function connect() {
  const source = new EventSource("/dashboard/stream");
  source.addEventListener("open", () => { $("connection").textContent = "live"; });
  source.addEventListener("error", () => {
    $("connection").textContent = "reconnecting...";  // EventSource retries by itself
  });
  source.addEventListener("state", (m) => drawState(JSON.parse(m.data)));
  source.addEventListener("queue", (m) => showEvent(JSON.parse(m.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  $("submit-form").addEventListener("submit", submitTask);
  $("pause-button").addEventListener("click", togglePause);
  $("purge-button").addEventListener("click", purge);
  $("tasks-status").addEventListener("change", () => { cursors = [null]; loadTasks(); });
  $("tasks-older").addEventListener("click", () => {
    cursors.push($("tasks").dataset.nextCursor);
    loadTasks();
  });
  $("tasks-newer").addEventListener("click", () => { cursors.pop(); loadTasks(); });
  connect();
  loadTasks();
});
