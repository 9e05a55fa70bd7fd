// One task's page: its row from GET /tasks/{id}, its history from the dashboard stream
// (?task=ID: the history first, then live), and its input and output images.
"use strict";

const { el, call, clock } = Dash;
const $ = (id) => document.getElementById(id);
const taskId = decodeURIComponent(location.pathname.split("/").pop());
const FINISHED = ["completed", "dead_lettered", "cancelled"];
let lastEvent = null;

function drawRow(row) {
  $("task-status").textContent = row.status;
  $("task-status").className = row.status;
  $("task-priority").textContent = row.priority;
  $("task-image").textContent = row.image_name || row.image;  // text, never parsed as HTML
  $("task-image").title = row.image;
  $("task-filters").textContent = row.filters.length ? row.filters.join(", ") : "default pipeline";
  $("task-attempts").textContent = row.attempts;
  $("task-worker").textContent = row.worker_id || "";
  $("task-error").textContent = row.error || "none";
  $("task-created").textContent = clock(row.created_at);
  $("task-finished").textContent = clock(row.finished_at);
  if (row.status === "completed" && $("output-image").hidden) {
    $("output-image").src = row.links.result;
    $("output-image").hidden = false;
    $("output-caption").textContent = "output";
  }
}

// The row follows the event stream a moment later (the API's follower writes it), so after
// an event that ends the task, look again a few times until the row says so too.
async function loadRow(tries = 1) {
  try {
    const row = await call("GET", `/tasks/${encodeURIComponent(taskId)}`);
    drawRow(row);
    if (tries > 1 && lastEvent && FINISHED.includes(lastEvent) && row.status !== lastEvent) {
      setTimeout(() => loadRow(tries - 1), 250);
    }
  } catch (error) {
    $("task-missing").hidden = false;
    $("task-missing").textContent = error instanceof Dash.ApiError && error.status === 404 ?
      `The database has no task ${taskId} (${error.detail}). If it went to Redis without the ` +
      "API (session 5's command line), its events from the queue are still shown below." :
      String(error);
  }
}

// A progress report moves the bar; it is not a line of history (a handler may send
// four a second) and does not change the row, so the row is not asked for again.
function showProgress(p) {
  $("task-progress").max = Math.max(1, p.total);
  $("task-progress").value = p.done;
  $("task-progress-text").textContent =
    `${p.done.toLocaleString("en")} / ${p.total.toLocaleString("en")}` +
    (p.message ? ` ${p.message}` : "");
  $("task-progress-line").hidden = false;
}

function showEvent(event) {
  if (event.event === "progress" && event.progress) {
    showProgress(event.progress);
    return;
  }
  lastEvent = event.task === taskId ? event.event : lastEvent;
  $("history").tBodies[0].append(el("tr", { "data-event": event.event },
    el("td", {}, clock(event.ms / 1000)),
    el("th", { scope: "row" }, event.event),
    el("td", {}, event.worker || ""),
    el("td", {}, event.text)));
  Dash.eventShown(event.ms);
  loadRow(FINISHED.includes(lastEvent) ? 40 : 1);
}

document.addEventListener("DOMContentLoaded", () => {
  $("task-id").textContent = taskId;
  document.title = `Task ${Dash.shortId(taskId)}: session 6`;
  $("input-image").src = `/dashboard/tasks/${encodeURIComponent(taskId)}/input`;
  loadRow();
  const source = new EventSource(`/dashboard/stream?task=${encodeURIComponent(taskId)}`);
  source.addEventListener("queue", (m) => showEvent(JSON.parse(m.data)));
});
