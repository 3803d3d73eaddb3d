"use strict";
// The warmup dashboard: reads /api with the token typed in (kept in this tab only) and draws
// every value with textContent, never as HTML.

const KEY = "warmup-token";
const SVG = "http://www.w3.org/2000/svg";
let me = null;
let timer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const pct = (rate) => `${(rate * 100).toFixed(2)} %`;
const num = (n) => n.toLocaleString("en");

function chart(detail) {
  // Bars: sent per day; line: the plan's cap per day; red line: failure rate (right axis)
  // against the plan's hold and pause lines.
  const days = detail.history;
  const width = 720, height = 220, left = 48, right = 48, top = 12, bottom = 28;
  const plotW = width - left - right, plotH = height - top - bottom;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `planned and sent volume per day for ${detail.name}` });
  const maxVolume = Math.max(1, ...days.map((d) => Math.max(d.planned, d.sent)));
  const maxRate = Math.max(detail.health.pause_line * 1.5, ...days.map((d) => d.failure_rate));
  const step = plotW / Math.max(1, days.length);
  const x = (i) => left + i * step;
  const yVolume = (v) => top + plotH - (v / maxVolume) * plotH;
  const yRate = (r) => top + plotH - (r / maxRate) * plotH;
  root.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH,
    stroke: "#9aa3ad" }));
  root.append(svg("text", { x: 4, y: top + 8 }, num(maxVolume)));
  root.append(svg("text", { x: 4, y: top + plotH }, "0"));
  root.append(svg("text", { x: left + plotW + 4, y: top + 8 }, pct(maxRate)));
  days.forEach((d, i) => {
    const h = top + plotH - yVolume(d.sent);
    const bar = svg("rect", { x: x(i) + step * 0.15, y: yVolume(d.sent), width: step * 0.7,
      height: h, fill: "#1565c0", class: "sent" });
    bar.append(svg("title", {}, `${d.day}: ${num(d.sent)} sent of ${num(d.planned)} planned, ` +
      `failure rate ${pct(d.failure_rate)} over ${num(d.reports)} reports`));
    root.append(bar);
    if (days.length <= 31 || i % Math.ceil(days.length / 15) === 0) {
      root.append(svg("text", { x: x(i) + 1, y: height - 10 }, d.day.slice(5)));
    }
  });
  const planned = days.map((d, i) => `${x(i) + step / 2},${yVolume(d.planned)}`).join(" ");
  root.append(svg("polyline", { points: planned, fill: "none", stroke: "#2e7d32",
    "stroke-width": 2, class: "planned" }));
  for (const [value, colour, label] of [[detail.health.hold_line, "#ef6c00", "hold"],
    [detail.health.pause_line, "#b00020", "pause"]]) {
    root.append(svg("line", { x1: left, x2: left + plotW, y1: yRate(value), y2: yRate(value),
      stroke: colour, "stroke-dasharray": "4 3", class: `${label}-line` }));
    root.append(svg("text", { x: left + plotW + 4, y: yRate(value) + 3 },
      `${label} ${pct(value)}`));
  }
  const rates = days.map((d, i) => `${x(i) + step / 2},${yRate(d.failure_rate)}`).join(" ");
  root.append(svg("polyline", { points: rates, fill: "none", stroke: "#b00020",
    "stroke-width": 1.5, class: "failure-rate" }));
  // A dot per day too, so a ramp's first day (a single point) shows.
  days.forEach((d, i) => {
    root.append(svg("circle", { cx: x(i) + step / 2, cy: yVolume(d.planned), r: 3,
      fill: "#2e7d32" }));
    if (d.reports) {
      root.append(svg("circle", { cx: x(i) + step / 2, cy: yRate(d.failure_rate), r: 3,
        fill: "#b00020" }));
    }
  });
  return root;
}

function spamChart(detail) {
  // Gmail Postmaster Tools, a point per day Google published: the user-reported spam rate
  // with Google's interval (a vertical bar), against the plan's hold and pause lines (Gmail's
  // own rules: under 0.1 %, never 0.3 %).
  const found = detail.postmaster;
  const days = found.days;
  const width = 720, height = 160, left = 48, right = 72, top = 12, bottom = 28;
  const plotW = width - left - right, plotH = height - top - bottom;
  const root = svg("svg", { class: "chart spam-chart", viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": `Gmail user-reported spam rate per day for ${detail.name}` });
  const highs = days.map((d) => d.spam_upper ?? d.spam_ratio ?? 0);
  const maxRate = Math.max(found.spam_pause_line * 1.5, ...highs);
  const step = plotW / Math.max(1, days.length);
  const x = (i) => left + i * step + step / 2;
  const y = (r) => top + plotH - (r / maxRate) * plotH;
  root.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH,
    stroke: "#9aa3ad" }));
  root.append(svg("text", { x: 4, y: top + 8 }, pct(maxRate)));
  root.append(svg("text", { x: 4, y: top + plotH }, "0"));
  for (const [value, colour, label] of [[found.spam_hold_line, "#ef6c00", "hold"],
    [found.spam_pause_line, "#b00020", "pause"]]) {
    root.append(svg("line", { x1: left, x2: left + plotW, y1: y(value), y2: y(value),
      stroke: colour, "stroke-dasharray": "4 3", class: `spam-${label}-line` }));
    root.append(svg("text", { x: left + plotW + 4, y: y(value) + 3 }, `${label} ${pct(value)}`));
  }
  const measured = days.map((d, i) => [d, i]).filter(([d]) => d.spam_ratio !== null);
  root.append(svg("polyline", { fill: "none", stroke: "#6a1b9a", "stroke-width": 1.5,
    points: measured.map(([d, i]) => `${x(i)},${y(d.spam_ratio)}`).join(" ") }));
  days.forEach((d, i) => {
    if (days.length <= 31 || i % Math.ceil(days.length / 15) === 0) {
      root.append(svg("text", { x: x(i) - step / 2 + 1, y: height - 10 }, d.day.slice(5)));
    }
    if (d.spam_ratio === null) return;
    if (d.spam_lower !== null && d.spam_upper !== null) {
      root.append(svg("line", { x1: x(i), x2: x(i), y1: y(d.spam_lower), y2: y(d.spam_upper),
        stroke: "#6a1b9a", "stroke-width": 3, opacity: 0.4 }));
    }
    const dot = svg("circle", { cx: x(i), cy: y(d.spam_ratio), r: 3, fill: "#6a1b9a",
      class: `spam-day ${d.verdict}`, "data-day": d.day });
    dot.append(svg("title", {}, d.reason));
    root.append(dot);
  });
  return root;
}

function postmasterFacts(detail) {
  const found = detail.postmaster;
  if (!found) return "no day kept (warmup postmaster pull)";
  const last = found.last;
  const spam = last.spam_ratio === null ? "no spam rate" : `spam ${pct(last.spam_ratio)}`;
  const text = `${last.day}: ${spam}, reputation ${last.reputation ?? "none"}; gate ${last.verdict}`;
  return found.warnings.length ? `${text}; warning: ${found.warnings.join("; ")}` : text;
}

function legend() {
  const node = el("div", { class: "legend" });
  for (const [colour, label] of [["#1565c0", "sent"], ["#2e7d32", "planned cap"],
    ["#b00020", "failure rate (right axis), dashed: hold and pause lines"]]) {
    const swatch = el("i");
    swatch.style.background = colour;
    node.append(swatch, label);
  }
  return node;
}

function fact(label, value) {
  return el("div", {}, el("span", {}, label), value);
}

function resumeForm(detail) {
  const input = el("input", { type: "text", class: "resume-reason", "aria-label": "reason",
    value: `resumed from the dashboard by ${me.name}` });
  const button = el("button", { type: "submit", class: "resume" }, "Resume");
  const form = el("form", { class: "resume-form" }, input, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const result = await api(`/api/domains/${encodeURIComponent(detail.name)}/resume`, {
        method: "POST", body: JSON.stringify({ reason: input.value || "resumed" }) });
      say(`${detail.name}: ${result.changes.join("; ") || "nothing changed"}`);
    } catch (error) {
      say(`${detail.name}: ${error.message}`, true);
    }
    await refresh();
  });
  return form;
}

function authentication(detail) {
  const checked = detail.authentication;
  if (!checked) return "not checked (warmup acs domain check)";
  if (checked.unverified.length) return `not verified: ${checked.unverified.join(", ")}`;
  return `verified (${new Date(checked.checked_at).toLocaleString()})`;
}

function dnsPosture(detail) {
  const dns = detail.dns;
  if (!dns) return "not read (warmup acs domain check --dns-only)";
  if (dns.problems.length) return `campaigns refused: ${dns.problems.join("; ")}`;
  const found = `SPF ${dns.spf_lookups ?? "-"} of 10 lookups, ` +
    (dns.dmarc_policy ? `DMARC p=${dns.dmarc_policy}` : "no DMARC");
  return dns.warnings.length ? `${found}; warning: ${dns.warnings.join("; ")}` : found;
}

function dmarcReports(detail) {
  const found = detail.dmarc;
  if (!found) return "no aggregate report in 14 days (warmup dmarc import)";
  const share = found.acs_aligned_share_7_days === null
    ? "no ACS mail reported" : `${pct(found.acs_aligned_share_7_days)} of ACS's mail aligned`;
  const text = `${share}, ${num(found.other_unaligned_7_days)} unaligned from other senders`;
  return found.warnings.length ? `${text}; warning: ${found.warnings.join("; ")}` : text;
}

function domainCard(detail) {
  const card = el("article", { class: `domain ${detail.status}`, "data-domain": detail.name });
  card.append(el("h3", {}, detail.name,
    el("span", { class: `badge ${detail.status} status` }, detail.status)));
  const used = detail.cap_today ? Math.min(1, detail.sent_today / detail.cap_today) : 0;
  const bar = el("div", { class: "capbar" }, el("div"));
  bar.firstChild.style.width = `${used * 100}%`;
  card.append(el("div", { class: "facts" },
    fact("plan, step", `${detail.plan}, step ${detail.step} of ${detail.last_step}`),
    fact("today: sent / cap", el("b", { class: "today" },
      `${num(detail.sent_today)} / ${num(detail.cap_today)}`)),
    fact("cap used", bar),
    fact("health", el("span", { class: "health" },
      `${detail.health.level}: ${pct(detail.health.failure_rate)} failures over ` +
      `${num(detail.health.reports)} reports`)),
    fact("transport, relay", `${detail.transport}; ${num(detail.relay_waiting)} relayed waiting`),
    fact("SPF / DKIM / DMARC", el("span", { class: "authentication" }, authentication(detail))),
    fact("DNS", el("span", { class: "dns" }, dnsPosture(detail))),
    fact("DMARC reports, 7 days", el("span", { class: "dmarc" }, dmarcReports(detail))),
    fact("Gmail Postmaster Tools", el("span", { class: "postmaster" }, postmasterFacts(detail))),
  ));
  card.append(el("p", { class: "reason" }, `Why: ${detail.reason}`));
  card.append(el("p", { class: `sending-now ${detail.sending.now ? "yes" : "no"}` },
    detail.sending.now ? `Now: ${detail.sending.reason}` : `Not sending now: ${detail.sending.reason}`));
  for (const hold of detail.provider_holds || []) {
    // One provider group stopped by its own gates; the others keep sending.
    // A held group still sends its probe, so that fresh reports can show it recovered.
    const probing = !hold.paused && hold.probe_per_hour > 0
      ? `, probing at ${num(hold.probe_per_hour)}/hour` : "";
    card.append(el("p", { class: "reason provider-hold", "data-provider": hold.provider },
      `${hold.provider} ${hold.paused ? "paused" : "held"}${probing} since ` +
      `${new Date(hold.since).toLocaleString()}: ${hold.reason}`));
  }
  card.append(chart(detail), legend());
  if (detail.postmaster) card.append(spamChart(detail));
  if (detail.status === "paused" && me.may.includes("ops")) card.append(resumeForm(detail));
  return card;
}

// Start times being typed into draft rows, kept across the 5-second refresh.
const typedStarts = {};

function scheduleAction(c) {
  // Marketing may have a draft start by itself at a time (the browser's timezone), or take
  // the time away again.
  const path = `/api/campaigns/${encodeURIComponent(c.name)}/schedule`;
  if (c.scheduled_at) {
    const button = el("button", { type: "button", class: "campaign-unschedule" }, "Unschedule");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(path, { method: "DELETE" });
        say(`${c.name}: no longer scheduled`);
      } catch (error) {
        say(`${c.name}: ${error.message}`, true);
      }
      await refresh();
    });
    return button;
  }
  const input = el("input", { type: "datetime-local", class: "schedule-at",
    "aria-label": `start ${c.name} at`, value: typedStarts[c.name] || "" });
  input.addEventListener("input", () => { typedStarts[c.name] = input.value; });
  const button = el("button", { type: "submit", class: "campaign-schedule" }, "Schedule");
  const form = el("form", { class: "schedule-form" }, input, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const result = await api(path, { method: "POST", body: JSON.stringify({ at: input.value, tz }) });
      delete typedStarts[c.name];
      say(`${c.name}: ${result.eta_note}`);
    } catch (error) {
      say(`${c.name}: ${error.message}`, true);
    }
    await refresh();
  });
  return form;
}

function campaignAction(c) {
  // Marketing may pause a running campaign and resume a paused one (its domain is ops' call).
  // A scheduled campaign is a draft with a start time: it may be unscheduled.
  const draft = c.status === "draft" || c.status === "scheduled";
  if (draft && me.may.includes("marketing")) return scheduleAction(c);
  const action = { running: "pause", paused: "resume" }[c.status];
  if (!action || !me.may.includes("marketing")) return "";
  const button = el("button", { type: "button", class: `campaign-${action}` },
    action === "pause" ? "Pause" : "Resume");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const result = await api(`/api/campaigns/${encodeURIComponent(c.name)}/${action}`, {
        method: "POST", body: JSON.stringify({ reason: `${action} from the dashboard by ${me.name}` }) });
      say(`${c.name}: ${result.status}`);
    } catch (error) {
      say(`${c.name}: ${error.message}`, true);
    }
    await refresh();
  });
  return button;
}

function campaignRow(c) {
  const bar = el("progress", { max: "1", value: String(c.progress) });
  return el("tr", { class: "campaign", "data-campaign": c.name },
    el("td", {}, c.name), el("td", { class: "status" },
      c.fill ? `${c.status} (ledger ${Math.round(c.fill.progress * 100)}%)` : c.status), el("td", {}, c.domain),
    el("td", {}, bar, ` ${(c.progress * 100).toFixed(1)} %`),
    el("td", { class: "sent" }, `${num(c.sent)} of ${num(c.rows)}`),
    el("td", { class: "failures" }, c.health.reports
      ? `${pct(c.health.failure_rate)} of ${num(c.health.reports)}` : "no reports yet"),
    el("td", { class: "engagement", title: c.engagement.note },
      c.engagement.delivered
        ? `${pct(c.engagement.click_rate)} clicked, ${pct(c.engagement.open_rate)} opened*`
        : "-"),
    el("td", { class: "eta" }, c.eta ? `${c.eta} (${c.eta_note})` : c.eta_note),
    el("td", {}, campaignAction(c)));
}

function say(text, error = false) {
  const node = document.getElementById("message");
  node.textContent = text;
  node.className = error ? "error" : "";
}

async function refresh() {
  try {
    const domains = await api("/api/domains");
    const details = await Promise.all(
      domains.map((d) => api(`/api/domains/${encodeURIComponent(d.name)}`)));
    const campaigns = await api("/api/campaigns");
    document.getElementById("domains").replaceChildren(
      ...(details.length ? details.map(domainCard) : [el("p", {}, "No sending domains yet.")]));
    document.querySelector("#campaigns tbody").replaceChildren(...campaigns.map(campaignRow));
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  } catch (error) {
    if (error.status === 401) return signOut("The token is no longer valid.");
    say(error.message, true);
  }
}

async function signIn(token) {
  sessionStorage.setItem(KEY, token);
  try {
    me = await api("/api/whoami");
  } catch (error) {
    return signOut(error.status === 401 ? "That token is not valid." : error.message);
  }
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("logout").hidden = false;
  await refresh();
  timer = setInterval(refresh, 5000);
}

function signOut(why = "") {
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  me = null;
  document.getElementById("who").textContent = "";
  document.getElementById("board").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = why;
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    signIn(input.value.trim());
    input.value = "";
  });
  document.getElementById("logout").addEventListener("click", () => signOut());
  const saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved); else signOut();
});
