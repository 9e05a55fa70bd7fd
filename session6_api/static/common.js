// What both pages share: calling the API (with the token, when the server asks for one),
// dialogs, building elements, and the measurements the browser tests read.
"use strict";

const Dash = (() => {
  let token = sessionStorage.getItem("apiToken");

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}: ${detail}`);
      this.status = status;
      this.detail = detail;
    }
  }

  // The API's error bodies: {"detail": "one line"} or FastAPI's list of {loc, msg}.
  async function errorText(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) {
        return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
      }
    } catch (ignored) { /* not JSON: fall through */ }
    return response.statusText || "request failed";
  }

  function showDialog(id, focusId) {
    const dialog = document.getElementById(id);
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      if (focusId) document.getElementById(focusId).focus();
    });
  }

  async function askToken() {
    const input = document.getElementById("token-input");
    input.value = "";
    const ok = await showDialog("token-dialog", "token-input");
    return ok && input.value ? input.value : null;
  }

  function confirmAction(text) {
    document.getElementById("confirm-text").textContent = text;
    return showDialog("confirm-dialog");
  }

  // One API call; a 401 asks for the token once and tries again with it.
  async function call(method, url, { json, form } = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      let body;
      if (json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(json);
      } else if (form !== undefined) {
        body = form;
      }
      const response = await fetch(url, { method, headers, body });
      if (response.status === 401 && attempt === 0) {
        const given = await askToken();
        if (given === null) throw new ApiError(401, "no token given: the action was not sent");
        token = given;
        sessionStorage.setItem("apiToken", token);
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, await errorText(response));
      return response.status === 204 ? null : response.json();
    }
  }

  // el("td", {class: "x"}, "text", child): children are text (never parsed as HTML) or nodes.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function clock(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleTimeString() : "";
  }

  function shortId(id) {
    return id ? id.slice(0, 8) : "";
  }

  function taskLink(id) {
    return el("a", { href: `/ui/tasks/${encodeURIComponent(id)}`, title: id }, shortId(id));
  }

  // Read by the browser tests: when the first live state was drawn, and for each event
  // how long after Redis wrote it (the stream id's milliseconds) it was on the screen.
  const metrics = { firstState: null, eventDelays: [] };
  function eventShown(streamMs) {
    if (streamMs < performance.timeOrigin) return; // history sent on connect: not a delay
    requestAnimationFrame(() => {
      metrics.eventDelays.push(Date.now() - streamMs);
      if (metrics.eventDelays.length > 2000) metrics.eventDelays.shift();
    });
  }

  return { ApiError, call, confirmAction, el, clock, shortId, taskLink, metrics, eventShown };
})();
window.dashboardMetrics = Dash.metrics;
