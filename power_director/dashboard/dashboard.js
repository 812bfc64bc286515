// The director's dashboard: renders each snapshot the event stream sends (no framework, no build).
"use strict";

function cell(row, text, numeric) {
  const td = row.insertCell();
  td.textContent = text;
  if (numeric) td.className = "n";
  return td;
}

function watts(value) {
  if (value === null || value === undefined) return "—";
  const a = Math.abs(value);
  if (a !== 0 && a < 0.001) return (value * 1e6).toFixed(2) + " µW";
  if (a < 1) return (value * 1e3).toFixed(3) + " mW";
  return value.toFixed(3) + " W";
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 120) return value.toFixed(1) + " s";
  return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
}

function renderAnalyzers(analyzers) {
  const body = document.querySelector("#analyzers tbody");
  body.replaceChildren();
  for (const a of analyzers) {
    const row = body.insertRow();
    row.dataset.analyzer = a.name;
    cell(row, a.name + (a.model ? " (" + a.model + ")" : ""));
    cell(row, watts(a.watts), true).dataset.field = "watts";
    cell(row, a.channel_watts.length ? a.channel_watts.map(watts).join(" · ") : "—");
    cell(row, String(a.samples), true).dataset.field = "samples";
    cell(row, String(a.flagged), true);
    cell(row, String(a.lost), true);
    cell(row, String(a.stalls), true);
    cell(row, String(a.errors), true);
    const age = cell(row, a.age_s === null ? "never" : seconds(a.age_s) + " ago");
    if (a.age_s !== null && a.age_s > 5) age.className = "stale";
  }
}

function renderSessions(sessions) {
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren();
  for (const s of sessions) {
    const row = body.insertRow();
    row.dataset.session = s.session_id;
    cell(row, s.session_id);
    const state = cell(row, s.state);
    state.dataset.field = "state";
    if (s.state === "failed") state.className = "failed";
    cell(row, s.phase || "—");
    cell(row, s.phase ? seconds(s.phase_elapsed_s) : "—", true);
    cell(row, s.clock_offset_s === null || s.clock_offset_s === undefined ? "—" : (s.clock_offset_s * 1e3).toFixed(2) + " ms", true);
    cell(row, s.failure || "");
  }
}

function renderErrors(errors) {
  const list = document.getElementById("errors");
  list.replaceChildren();
  if (!errors.length) {
    list.append(Object.assign(document.createElement("li"), { textContent: "none" }));
    return;
  }
  for (const e of errors.slice().reverse()) {
    const when = new Date(e.time_ns / 1e6).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    list.append(Object.assign(document.createElement("li"), { textContent: when + " · " + e.analyzer + ": " + e.text }));
  }
}

function connect() {
  const link = document.getElementById("link");
  const source = new EventSource("/events");
  source.addEventListener("open", () => { link.textContent = "connected"; link.className = "up"; });
  source.addEventListener("error", () => { link.textContent = "reconnecting…"; link.className = "down"; });
  source.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    renderAnalyzers(state.analyzers);
    renderSessions(state.sessions);
    renderErrors(state.errors);
    document.getElementById("updated").textContent = new Date(state.time_ns / 1e6).toISOString().slice(11, 19) + " UTC";
    document.body.dataset.updated = String(state.time_ns);
  });
}

connect();
