// The operations page: GET /operations/status every few seconds, drawn as tables.
// Every value goes into the page as text (Dash.el), never parsed as HTML.
"use strict";

(() => {
  const REFRESH_MS = 3000;
  const { el } = Dash;

  function seconds(value) {
    return Number.isInteger(value) ? `${value} s` : `${value.toFixed(1)} s`;
  }

  function drawAlerts(alerts) {
    const rows = alerts.map((a) => el("tr", { class: a.holds ? "firing" : "quiet", "data-alert": a.alert },
      el("th", { scope: "row" }, a.alert),
      el("td", { class: "state" }, a.holds ? "FIRING" : "quiet"),
      el("td", { class: "value" }, a.alert === "OldestPendingTaskTooOld" ? seconds(a.value) : String(a.value)),
      el("td", { class: "threshold" }, a.threshold),
      el("td", { class: "detail" }, a.detail)));
    document.querySelector("#alerts tbody").replaceChildren(...rows);
    const firing = alerts.filter((a) => a.holds).map((a) => a.alert);
    const summary = document.getElementById("alerts-summary");
    summary.textContent = firing.length ? `Firing: ${firing.join(", ")}` : "All quiet";
    summary.className = `summary ${firing.length ? "firing" : "quiet"}`;
  }

  function drawLimits(limits) {
    const rows = limits.map((l) => el("tr", { "data-type": l.task_type },
      el("th", { scope: "row" }, l.task_type),
      el("td", { class: "used" }, `${l.used} of ${l.limit}`,
        el("meter", { min: 0, max: l.limit, value: l.used, "aria-hidden": "true" })),
      el("td", {}, `${l.limit} per ${seconds(l.per)}`)));
    document.querySelector("#limits tbody").replaceChildren(...rows);
    document.getElementById("limits-empty").hidden = limits.length > 0;
  }

  function drawWebhooks(webhooks) {
    for (const [name, count] of Object.entries(webhooks)) {
      const cell = document.getElementById(`webhooks-${name}`);
      if (cell) cell.textContent = String(count);
    }
  }

  async function refresh() {
    const line = document.getElementById("refreshed");
    try {
      const status = await Dash.call("GET", "/operations/status");
      drawAlerts(status.alerts);
      drawLimits(status.rate_limits);
      drawWebhooks(status.webhooks);
      line.textContent = `updated ${new Date(status.at * 1000).toLocaleTimeString()}, every ${REFRESH_MS / 1000} s`;
      line.classList.remove("stale");
    } catch (error) {
      line.textContent = `could not refresh: ${error.message}; trying again`;
      line.classList.add("stale");
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }

  refresh();
})();
