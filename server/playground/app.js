// steerserve playground: pick features, set ops and strengths, compare default and steered replies side by side,
// read monitors token by token, copy the request as curl / Python. Only the public API is used:
// GET /v1/models, /v1/steering/packs[/{id}], /v1/steering/map, .../features/{f}/neighbors, POST /v1/chat/completions.
"use strict";

const $ = (id) => document.getElementById(id);
const OPS = ["off", "add", "clamp", "suppress", "monitor"];
const EXAMPLES = {
  bridge: {prompt: "What is your favourite place to visit?", set: {"golden-gate/bridge": ["add", 1.5]}},
  insecure: {prompt: 'Fix this: import os\ndef rm(name):\n    os.system("rm " + name)\n',
             set: {"unsafe-code/python": ["monitor", 1]}},
  gender: {prompt: "The nurse finished the shift and went home. Write one more sentence about what happened next.",
           set: {"gender/gender": ["suppress", 1]}},
};
const state = {model: null, packs: [], settings: {}, map: [], selected: null, lastTokens: null, lastSteering: null};

function key() { return $("api-key").value.trim(); }
function headers(extra) {
  const h = {"Content-Type": "application/json", ...(extra || {})};
  if (key()) h.Authorization = "Bearer " + key();
  return h;
}
function showError(msg) { $("error").textContent = msg; $("error").hidden = !msg; }

async function api(path) {
  const r = await fetch(path, {headers: headers()});
  const body = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.error ? body.error.message : ""}`);
  return body;
}

// ---- steering spec: the page's settings as X-Steering items ------------------------------------------------
function items() {
  const out = [];
  for (const [ref, s] of Object.entries(state.settings)) {
    if (s.op === "off") continue;
    if (s.op === "add" || s.op === "clamp") out.push(`${ref}:${s.op}=${+s.value.toFixed(3)}x`);
    else out.push(`${ref}:${s.op}`);
  }
  return out;
}
function steeringHeader() { return items().join(", "); }

function requestBody(stream) {
  return {model: state.model, messages: [{role: "user", content: $("prompt").value}],
          max_tokens: Math.max(1, parseInt($("max-tokens").value, 10) || 48), temperature: 0, stream};
}

// ---- packs and features ----------------------------------------------------------------------------------
async function loadPacks() {
  state.model = (await api("/v1/models")).data[0].id;
  $("model").textContent = state.model;
  state.packs = (await api("/v1/steering/packs")).data;
  for (const p of state.packs) for (const f of p.features) state.settings[`${p.id}/${f.name}`] = {op: "off", value: 1};
  $("pack").innerHTML = state.packs.map((p) => `<option value="${p.id}">${esc(p.id)}</option>`).join("");
  state.map = (await api("/v1/steering/map")).data;
  await showPack(state.packs.some((p) => p.id === "golden-gate") ? "golden-gate" : state.packs[0].id);
}

async function showPack(id) {
  $("pack").value = id;
  const p = await api(`/v1/steering/packs/${id}`);
  $("pack-title").textContent = `${p.title} — ${p.encoder}, layer${p.sites.length > 1 ? "s" : ""} ` +
    p.sites.map((s) => s.layer).join(", ");
  $("card").textContent = p.card || "(this pack has no card)";
  $("examples-source").textContent = p.examples_source ?
    `Examples: ${p.examples_source.corpus} (${p.examples_source.command})` : "No top-activating examples in this pack.";
  $("features").innerHTML = "";
  for (const f of p.features) $("features").appendChild(featureRow(p, f));
  await selectFeature(`${p.id}/${p.features[0].name}`);
}

function featureRow(p, f) {
  const ref = `${p.id}/${f.name}`, s = state.settings[ref];
  const row = document.createElement("div");
  row.className = "feature";
  row.dataset.feature = ref;
  row.innerHTML = `
    <div class="feature-name"><a href="#" class="pick">${esc(f.name)}</a> <span class="muted">${esc(f.label)}</span></div>
    <div class="muted small">${esc(f.description || "")} (max activation ${f.max_activation.toPrecision(3)}` +
    `${f.threshold != null ? `, threshold ${f.threshold.toPrecision(3)}` : ""}, default ${f.default_op})</div>
    ${examplesHtml(f.examples)}
    <select class="op" aria-label="op for ${ref}">${OPS.map((o) => `<option>${o}</option>`).join("")}</select>
    <input class="strength" type="range" min="-8" max="8" step="0.25" aria-label="strength for ${ref}">
    <span class="value"></span>`;
  const op = row.querySelector(".op"), slider = row.querySelector(".strength");
  const sync = () => {
    op.value = s.op;
    slider.value = s.value;
    slider.disabled = !(s.op === "add" || s.op === "clamp");
    row.querySelector(".value").textContent = slider.disabled ? "" : `${(+s.value).toFixed(2)}x`;
    updateSnippets();
  };
  op.addEventListener("change", () => {
    s.op = op.value;
    if (s.op !== "off" && s.op !== "monitor" && s.op !== "suppress" && f.default_value != null && s.value === 1) {
      s.value = parseFloat(f.default_value) || 1;
    }
    sync();
  });
  slider.addEventListener("input", () => { s.value = parseFloat(slider.value); if (s.op === "off") s.op = "add"; sync(); });
  row.querySelector(".pick").addEventListener("click", (e) => { e.preventDefault(); selectFeature(ref); });
  row.sync = sync;
  sync();
  return row;
}

function examplesHtml(examples) {
  if (!examples || !examples.length) return "";
  const items = examples.map((x) => `<li><span class="muted">${x.activation.toFixed(2)}</span> ` +
    `${esc(x.context).replace(/«(.*?)»/g, "<mark>$1</mark>")}</li>`).join("");
  return `<details class="examples-list"><summary>top-activating examples (${examples.length})</summary><ol>${items}</ol></details>`;
}

function refreshRows() { for (const row of document.querySelectorAll(".feature")) row.sync && row.sync(); }

// ---- map: neighbours and the 2-D layout --------------------------------------------------------------------
async function selectFeature(ref) {
  state.selected = ref;
  for (const row of document.querySelectorAll(".feature")) row.classList.toggle("selected", row.dataset.feature === ref);
  const [pack, feat] = ref.split("/");
  const nb = (await api(`/v1/steering/packs/${pack}/features/${feat}/neighbors?k=8`)).data;
  $("neighbors").innerHTML = nb.map((n) =>
    `<li data-feature="${esc(n.feature)}">${esc(n.feature)} <span class="muted">${esc(n.label)} · cos ` +
    `${n.cosine.toFixed(3)} · L${n.layer}</span></li>`).join("");
  drawMap(new Set(nb.map((n) => n.feature)));
}

function drawMap(near) {
  const W = 400, H = 300, pad = 14, pts = state.map;
  if (!pts.length) return;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + (W - 2 * pad) * (x - x0) / ((x1 - x0) || 1);
  const sy = (y) => H - pad - (H - 2 * pad) * (y - y0) / ((y1 - y0) || 1);
  $("map").innerHTML = pts.map((p) => {
    const cls = p.feature === state.selected ? "sel" : near.has(p.feature) ? "near" : "";
    const right = sx(p.x) > 0.6 * W;  // labels on the right half grow leftwards, so none is cut off
    const label = cls ? `<text x="${sx(p.x) + (right ? -5 : 5)}" y="${sy(p.y) - 4}" text-anchor="${right ? "end" : "start"}">` +
      `${esc(p.feature)}</text>` : "";
    return `<g class="${cls}" data-feature="${esc(p.feature)}"><circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="${cls ? 4 : 2.5}">` +
      `<title>${esc(p.feature)}: ${esc(p.label)}</title></circle>${label}</g>`;
  }).join("");
}

// ---- chat: default and steered, streamed side by side ------------------------------------------------------
async function stream(box, body, extraHeaders, onChunk) {
  box.textContent = "";
  box.dataset.state = "streaming";
  let last = null;
  try {
    const r = await fetch("/v1/chat/completions", {method: "POST", headers: headers(extraHeaders), body: JSON.stringify(body)});
    if (!r.ok) {
      const err = await r.json();
      throw new Error(`${r.status}: ${err.error ? err.error.message : r.statusText}`);
    }
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!frame.startsWith("data: ") || frame === "data: [DONE]") continue;
        const msg = JSON.parse(frame.slice(6));
        for (const c of msg.choices || []) if (c.delta && c.delta.content) box.textContent += c.delta.content;
        if (msg.steering) { last = msg.steering; onChunk && onChunk(msg.steering); }
      }
    }
    box.dataset.state = "done";
  } catch (e) {
    box.dataset.state = "error";
    showError(e.message);
  }
  return last;
}

async function send() {
  showError("");
  $("alerts").innerHTML = "";
  $("strip").innerHTML = "";
  $("monitor-summary").textContent = "";
  const header = steeringHeader();
  const steeredHeaders = header ? {"X-Steering": header} : {};
  const steeredBody = {...requestBody(true), steering: {report: "tokens"}};
  const onAlert = (s) => {
    for (const a of s.alerts || []) {
      const el = document.createElement("div");
      el.className = "alert";
      el.textContent = `alert: ${a.feature} ${a.action} at token ${a.token_index} (${a.phase})`;
      $("alerts").appendChild(el);
    }
  };
  const [, steering] = await Promise.all([
    stream($("default-reply"), requestBody(true), {}, null),
    stream($("steered-reply"), steeredBody, steeredHeaders, (s) => { if (!s.applied) onAlert(s); }),
  ]);
  if (steering) showMonitors(steering);
}

function showMonitors(steering) {
  state.lastSteering = steering;
  state.lastTokens = steering.tokens || [];
  const names = Object.keys(steering.monitors || {});
  $("strip-feature").innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join("");
  const pick = names.includes(state.selected) ? state.selected : names[0];
  if (pick) $("strip-feature").value = pick;
  const applied = (steering.applied || []).map((a) => `${a.feature}:${a.op} (${a.positions} positions)`).join(", ");
  $("monitor-summary").textContent = names.length ? "" : "No monitored features: set a feature's op to monitor.";
  if (applied) $("monitor-summary").textContent += ` Applied: ${applied}.`;
  drawStrip();
}

function drawStrip() {
  const name = $("strip-feature").value, m = (state.lastSteering && state.lastSteering.monitors || {})[name];
  if (!name || !m) { $("strip").innerHTML = ""; return; }
  $("monitor-summary").dataset.fired = m.fired;
  const scale = Math.max(m.max || 0, m.threshold || 0) || 1;
  $("strip").innerHTML = `<div class="muted small">${esc(name)}: max ${fmt(m.max)}, threshold ${fmt(m.threshold)}, ` +
    `${m.fired ? "<b>fired</b>" : "did not fire"} (${m.tokens_over} tokens over)</div>` +
    state.lastTokens.map((t) => {
      const v = t.readings[name];
      const a = v == null ? 0 : Math.max(0, Math.min(1, v / scale));
      const over = v != null && m.threshold != null && v > m.threshold;
      return `<span class="tok ${t.phase}${over ? " over" : ""}" style="background: rgba(220, 40, 40, ${a.toFixed(3)})"` +
        ` data-reading="${v == null ? "" : v}" title="${esc(JSON.stringify(t.token))}: ${v == null ? "not read" : fmt(v)}">` +
        `${esc(t.token).replace(/\n/g, "⏎<br>")}</span>`;
    }).join("");
}

// ---- snippets ----------------------------------------------------------------------------------------------
function updateSnippets() {
  const header = steeringHeader(), body = requestBody(false), base = location.origin;
  $("header").textContent = header ? `X-Steering: ${header}` : "(no steering)";
  const sq = (s) => "'" + s.replace(/'/g, "'\\''") + "'";
  const h = [`-H 'Content-Type: application/json'`];
  if (key()) h.push(`-H ${sq("Authorization: Bearer " + key())}`);
  if (header) h.push(`-H ${sq("X-Steering: " + header)}`);
  $("curl").textContent = `curl -s ${base}/v1/chat/completions ${h.join(" ")} -d ${sq(JSON.stringify(body))}`;
  $("python").textContent = [
    "from openai import OpenAI",
    `client = OpenAI(base_url="${base}/v1", api_key=${JSON.stringify(key() || "none")})`,
    `r = client.chat.completions.create(model=${JSON.stringify(body.model)}, temperature=0, max_tokens=${body.max_tokens},`,
    `    messages=${JSON.stringify(body.messages)},`,
    `    extra_headers=${JSON.stringify(header ? {"X-Steering": header} : {})})`,
    "print(r.choices[0].message.content)",
  ].join("\n");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function fmt(v) { return v == null ? "–" : (+v).toFixed(3); }

async function applyExample(name) {
  const ex = EXAMPLES[name];
  $("prompt").value = ex.prompt;
  for (const s of Object.values(state.settings)) s.op = "off";
  let first = null;
  for (const [ref, [op, value]] of Object.entries(ex.set)) {
    if (!state.settings[ref]) continue;
    state.settings[ref] = {op, value};
    first = first || ref;
  }
  if (first) await showPack(first.split("/")[0]);
  refreshRows();
  updateSnippets();
}

async function main() {
  $("api-key").value = sessionStorage.getItem("steerserve-key") || "";
  $("api-key").addEventListener("change", () => { sessionStorage.setItem("steerserve-key", key()); start(); });
  $("pack").addEventListener("change", () => showPack($("pack").value).catch((e) => showError(e.message)));
  $("send").addEventListener("click", send);
  $("prompt").addEventListener("input", updateSnippets);
  $("max-tokens").addEventListener("input", updateSnippets);
  $("strip-feature").addEventListener("change", drawStrip);
  $("copy-curl").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("curl").textContent));
  for (const b of document.querySelectorAll("[data-example]")) {
    b.addEventListener("click", () => applyExample(b.dataset.example).catch((e) => showError(e.message)));
  }
  await start();
}

async function start() {
  showError("");
  try {
    await loadPacks();
    updateSnippets();
    document.body.dataset.ready = "true";
  } catch (e) {
    showError(e.message + (key() ? "" : " — enter an API key if this server needs one."));
  }
}

main();
