// Archipelago's pages work without this script; it adds what a page
// cannot do alone: following an operation live, and refreshing My Apps in
// place (keeping the last list on screen when the node does not answer).
"use strict";

// Links to an app's port name the host the page came from.
function fixOpenLinks(root) {
  for (const link of root.querySelectorAll("[data-open-port]")) {
    link.href = `${location.protocol}//${location.hostname}:${link.dataset.openPort}/`;
  }
}

// Follows an operation's events: the bar never goes back, and the page
// ends in "Running" (with Open) or in the failure and what to do.
function followOperation(section) {
  const id = section.dataset.operation;
  const bar = document.getElementById("progress");
  const stage = document.getElementById("stage");
  const notices = document.getElementById("notices");
  const live = document.getElementById("live");
  let ended = section.dataset.status !== "running";
  if (ended) return;
  const events = new EventSource(`/api/operations/${id}/events`);
  const finish = () => { ended = true; events.close(); if (live) live.hidden = true; };
  const handle = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    // How long after the click that brought this page the first event
    // showed (the navigation starts at the click): a figure the browser
    // test reports.
    if (window.archyFirstEventMs === undefined) window.archyFirstEventMs = performance.now();
    if (event.type === "progress") {
      bar.value = Math.max(Number(bar.value), event.percent);
      bar.textContent = `${bar.value}%`;
      stage.textContent = event.stage;
    } else if (event.type === "notice") {
      const item = document.createElement("li");
      item.textContent = event.message;
      notices.append(item);
    } else if (event.type === "succeeded") {
      bar.value = 100;
      stage.textContent = "Done";
      document.getElementById("done").hidden = false;
      finish();
      showOpen(section.dataset.app);
    } else if (event.type === "failed") {
      document.getElementById("error").textContent = event.error;
      const causes = document.getElementById("causes");
      causes.replaceChildren(...(event.causes || []).map((c) => {
        const item = document.createElement("li");
        item.textContent = c;
        return item;
      }));
      document.getElementById("failed").hidden = false;
      finish();
    }
  };
  for (const name of ["progress", "notice", "succeeded", "failed"]) {
    events.addEventListener(name, handle);
  }
  events.onerror = () => {
    if (!ended && live) live.textContent = "Connection lost; reconnecting…";
  };
}

// Points Open at the installed app's first host port.
async function showOpen(app) {
  const open = document.getElementById("open");
  try {
    const answer = await fetch(`/api/apps/${encodeURIComponent(app)}`, { credentials: "same-origin" });
    if (!answer.ok) return;
    const detail = await answer.json();
    const ports = Object.values(detail.app.host_ports || {});
    if (ports.length > 0) {
      open.href = `${location.protocol}//${location.hostname}:${ports[0]}/`;
    }
  } catch { /* the link keeps pointing at My Apps */ }
}

// Refreshes a list in place every few seconds; on failure keeps it and
// shows the offline notice until the node answers again.
function refreshInPlace(holder) {
  const offline = document.getElementById("offline");
  const every = 3000;
  const tick = async () => {
    try {
      const answer = await fetch(holder.dataset.refresh, {
        credentials: "same-origin",
        headers: { "Accept": "text/html" },
      });
      // A redirect to the login means the session ended: keep the list.
      if (!answer.ok || answer.redirected) throw new Error(String(answer.status));
      const html = await answer.text();
      if (!holder.contains(document.activeElement) || document.activeElement === document.body) {
        holder.innerHTML = html;
        fixOpenLinks(holder);
      }
      offline.hidden = true;
    } catch {
      offline.hidden = false;
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  fixOpenLinks(document);
  const operation = document.querySelector("[data-operation]");
  if (operation) followOperation(operation);
  const refreshing = document.querySelector("[data-refresh]");
  if (refreshing) refreshInPlace(refreshing);
});
