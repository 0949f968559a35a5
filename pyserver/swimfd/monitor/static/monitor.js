// swimfd monitor page: renders the model from /api/state, then from every /events message.
"use strict";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function clock(epoch) {
  return new Date(epoch * 1000).toISOString().slice(11, 23);
}

function secs(x) {
  return x === null || x === undefined ? "—" : x.toFixed(2) + " s";
}

function renderMatrix(view) {
  const table = document.getElementById("matrix");
  const head = el("tr", {}, el("th", {}, "observer \\ member"));
  for (const s of view.subjects) head.append(el("th", { "data-subject": s }, s));
  head.append(el("th", {}, "leader (term)"));
  table.tHead.replaceChildren(head);
  const rows = [];
  for (const o of view.observers) {
    const row = view.rows[o];
    const tr = el("tr", { id: "row-" + o, "data-observer": o, "data-reachable": String(row.reachable) });
    if (!row.reachable) tr.className = "stale";
    const title = `${o} at ${row.addr}, ${row.mode || "?"} mode` + (row.reachable ? "" : `, unreachable: ${row.error}`);
    tr.append(el("th", { title }, o + (row.reachable ? "" : " ✕")));
    for (const s of view.subjects) {
      const c = row.cells[s];
      const state = c ? c.state : "MISSING";
      const td = el("td", {
        id: `cell-${o}-${s}`, class: "cell state-" + state,
        "data-observer": o, "data-subject": s, "data-state": state,
      });
      if (c) {
        td.dataset.incarnation = c.incarnation;
        td.dataset.since = c.since;
        const age = Math.max(view.now - c.last_change, 0).toFixed(1);
        td.title = `${o} sees ${s} ${state}, incarnation ${c.incarnation}, changed ${age} s ago` +
          ` (monitor saw it at ${clock(c.since)})` + (c.detector ? `, detector ${c.detector}` : "") +
          (c.source ? `, via ${c.source}` : "");
        td.append(state, el("small", {}, "inc " + c.incarnation));
      } else {
        td.title = `${s} is not in ${o}'s view`;
        td.append("—");
      }
      tr.append(td);
    }
    tr.append(el("td", { class: "leader", "data-observer": o, "data-leader": row.leader },
      row.leader ? `${row.leader} (${row.term})` : "none"));
    rows.push(tr);
  }
  table.tBodies[0].replaceChildren(...rows);
}

function renderBanner(view) {
  const banner = document.getElementById("banner");
  const subjects = Object.keys(view.disputes);
  banner.hidden = subjects.length === 0;
  banner.dataset.disputes = subjects.join(",");
  banner.textContent = "Views disagree — " + subjects.map((s) => {
    const parts = Object.entries(view.disputes[s]).map(([st, obs]) => `${st} at ${obs.join(",")}`);
    return `member ${s}: ${parts.join("; ")}`;
  }).join(" · ");
}

function renderFailures(view) {
  const rows = view.failures.slice().reverse().map((f) => {
    const status = f.refuted ? "alive again" : f.all_after === null ? "spreading" : "all knew";
    return el("tr", { "data-subject": f.subject, "data-first": f.first_after, "data-all": f.all_after ?? "" },
      el("td", {}, `${f.subject} (inc ${f.incarnation})`), el("td", {}, secs(f.first_after)),
      el("td", {}, f.first_observer), el("td", {}, secs(f.all_after)),
      el("td", { class: f.refuted ? "refuted" : "" }, status));
  });
  document.querySelector("#failures tbody").replaceChildren(...rows);
}

function describe(e) {
  switch (e.kind) {
    case "leader": return `${e.observer}: leader is now ${e.subject || "none"} (term ${e.term})`;
    case "unreachable": return `monitor lost contact with ${e.subject}`;
    case "reachable": return `monitor reached ${e.subject} again`;
    case "removed": return `${e.observer}: ${e.subject} removed from view`;
    default: {
      const how = [e.detector && `detector ${e.detector}`, e.source && `via ${e.source}`].filter(Boolean).join(", ");
      return `${e.observer}: ${e.subject} ${e.kind} (inc ${e.incarnation})` + (how ? ` — ${how}` : "");
    }
  }
}

function renderTimeline(view) {
  const items = view.events.slice(-300).reverse().map((e) => el("li", {
    "data-kind": e.kind, "data-observer": e.observer, "data-subject": e.subject, "data-at": e.at,
  }, `${clock(e.at)}  ${describe(e)}`));
  document.getElementById("timeline").replaceChildren(...items);
}

function render(view) {
  const live = view.observers.filter((o) => view.rows[o].reachable).length;
  document.getElementById("summary").textContent =
    `${view.observers.length} observers (${live} reachable), ${view.subjects.length} members · updated ${clock(view.now)} UTC`;
  renderMatrix(view);
  renderBanner(view);
  renderFailures(view);
  renderTimeline(view);
  document.body.dataset.updated = view.now;
}

function setLink(state) {
  const link = document.getElementById("link");
  link.dataset.link = state;
  link.textContent = state === "live" ? "live" : state === "lost" ? "reconnecting…" : "connecting";
}

const initial = document.getElementById("initial-state").textContent.trim();
if (initial.startsWith("{")) render(JSON.parse(initial));
const stream = new EventSource("/events");
stream.onopen = () => setLink("live");
stream.onerror = () => setLink("lost");
stream.onmessage = (msg) => render(JSON.parse(msg.data));
