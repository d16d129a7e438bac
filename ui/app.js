// Headroom's UI: plain DOM, talking to the backend only through Tauri commands and events.
"use strict";

const T = window.__TAURI__;
const invoke = (cmd, args) => T.core.invoke(cmd, args || {});
const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
const SCOPES = ["provider", "user", "system"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

const fmt = (n) => Number(n || 0).toLocaleString("en-US");
const money = (x) => "$" + Number(x || 0).toFixed(2);
function duration(s) {
  if (s == null) return "—";
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}
const errText = (e) => (e && e.message) || String(e);

let status = null;

// ---------- tabs ----------
function showTab(name) {
  for (const b of $$(".tab")) b.classList.toggle("active", b.dataset.tab === name);
  for (const p of $$(".page")) p.hidden = p.id !== "page-" + name;
  if (name === "tools") loadTools();
  if (name === "settings") loadSettings();
  if (name === "runtime") loadDeployments();
}

// ---------- overview / runtime ----------
const MODE_TEXT = {
  "in-app": "In this app",
  attached: "Attached to a Headroom already running on this port",
  none: "Not running",
};

function kvRows(table, obj) {
  table.replaceChildren();
  if (!obj || typeof obj !== "object" || !Object.keys(obj).length) {
    table.append(el("tr", {}, el("td", { class: "hint", text: "—" })));
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    let text = v && typeof v === "object" ? (v.status || JSON.stringify(v)) : String(v);
    // A check that is switched off is a choice, not a fault.
    if (v && typeof v === "object" && v.enabled === false) text = "off (optional)";
    table.append(el("tr", { "data-key": k }, el("th", { text: k }), el("td", { text })));
  }
}

// Seven bars, one per UTC day, scaled to the best day; the value is in each bar's title.
function renderChart(days) {
  const chart = $("#ov-chart");
  const max = Math.max(1, ...days.map((d) => d.tokens_saved));
  chart.replaceChildren(...days.map((d) => {
    const pct = Math.round((d.tokens_saved / max) * 100);
    const bar = el("div", { class: "bar", title: `${d.date}: ${fmt(d.tokens_saved)} tokens · ${money(d.cost_saved_usd)}` });
    bar.style.height = `${Math.max(pct, d.tokens_saved > 0 ? 4 : 1)}%`;
    return el("div", { class: "col" }, bar, el("span", { class: "day", text: d.date.slice(5) }));
  }));
}

function modeText(s) {
  const preset = s.deployment && s.deployment.preset;
  if (s.mode === "attached" && preset && String(preset).startsWith("persistent-")) {
    return `Installed ${preset} (controlled through the install engine)`;
  }
  return MODE_TEXT[s.mode] || s.mode;
}

function renderStatus(s) {
  status = s;
  $("#state-dot").className = "dot " + s.state;
  const st = $("#ov-state");
  st.textContent = s.state;
  st.className = "big state-" + s.state;
  $("#ov-summary").textContent = s.summary;
  $("#ov-tokens-today").textContent = fmt(s.tokens_saved_today);
  $("#ov-money-today").textContent = money(s.money_saved_today_usd);
  $("#ov-tokens-week").textContent = fmt(s.tokens_saved_week);
  $("#ov-money-week").textContent = money(s.money_saved_week_usd);
  $("#ov-tokens-total").textContent = fmt(s.tokens_saved_total);
  $("#ov-money-total").textContent = money(s.money_saved_total_usd);
  $("#ov-requests-today").textContent = fmt(s.requests_today);
  renderChart(s.history || []);
  $("#ov-ledger-note").textContent = s.running && !s.savings_persistent
    ? "This proxy keeps no savings ledger, so these totals reset when it restarts."
    : "";
  $("#ov-port").textContent = s.port;
  $("#ov-mode").textContent = modeText(s);
  $("#ov-routing").textContent = {
    on: "On: chosen tools go through Headroom",
    paused: "Paused by you: tools talk to providers directly",
    "auto-paused": "Auto-paused: the proxy is down, tools talk to providers directly",
    off: "Off",
    "no-tools": "No tools routed yet (see Tools)",
  }[s.routing] || s.routing;
  $("#ov-uptime").textContent = duration(s.uptime_seconds);
  $("#ov-version").textContent = s.version || "—";
  $("#ov-upstreams").textContent = Object.entries(s.upstreams || {}).map(([k, v]) => `${k}: ${v}`).join("  ·  ");
  kvRows($("#ov-deployment"), s.deployment);
  kvRows($("#ov-checks"), s.checks);
  const banner = $("#banner-error");
  banner.hidden = !s.error;
  banner.textContent = s.error || "";
  // Runtime page.
  $("#rt-status").textContent = s.summary;
  $("#rt-mode").textContent = modeText(s);
  $("#rt-start").disabled = s.expected_up;
  $("#rt-stop").disabled = !s.expected_up;
  $("#rt-pause").textContent = s.routing === "paused" ? "Resume routing" : "Pause routing";
  $("#rt-autostart").checked = s.autostart;
  $("#rt-log").textContent = (s.log || []).join("\n");
  $("#undo-btn").disabled = false;
}

async function proxy(action) {
  try {
    renderStatus(await invoke("proxy_action", { action }));
  } catch (e) {
    alert(errText(e));
  }
}

// ---------- tools ----------
let tools = [];

async function loadTools() {
  try {
    tools = await invoke("list_tools");
  } catch (e) {
    return alert(errText(e));
  }
  const body = $("#tools-table tbody");
  body.replaceChildren();
  for (const t of tools) {
    const found = t.detected
      ? el("span", { class: "yes", text: "Detected" })
      : el("span", { class: "no", text: "Not detected" });
    const where = el("div", { class: "path" });
    where.append(
      el("div", { text: t.binary ? "binary: " + t.binary : "binary: not on PATH" }),
      el("div", { text: t.config ? "config: " + t.config + (t.config_exists ? "" : " (missing)") : "" })
    );
    if (t.current) where.append(el("div", { class: "current", text: "points at: " + t.current }));
    const row = el("tr", { "data-tool": t.name }, el("td", {}, el("b", { text: t.display_name })), el("td", {}, found, where));
    for (const sv of t.scopes) {
      const box = el("input", {
        type: "checkbox",
        class: "scope-toggle",
        "data-tool": t.name,
        "data-scope": sv.scope,
        disabled: !sv.supported,
        title: sv.reason || "",
      });
      box.checked = t.wired === sv.scope;
      box.addEventListener("change", () => toggleScope(t.name, sv.scope, box.checked));
      const cell = el("td", {}, el("label", { class: "check" }, box, sv.supported ? "" : null));
      if (!sv.supported) cell.append(el("span", { class: "reason", text: sv.reason }));
      row.append(cell);
    }
    body.append(row);
  }
}

function renderDiffs(container, plan) {
  container.replaceChildren();
  if (!plan.changes.length) {
    container.append(el("p", { class: "hint", text: "No file changes are needed." }));
  }
  for (const c of plan.changes) {
    const pre = el("pre", { class: "diff" });
    for (const line of c.diff.split("\n")) {
      const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
        : line.startsWith("-") && !line.startsWith("---") ? "del"
        : line.startsWith("@@") ? "hunk" : "";
      pre.append(el("span", { class: cls, text: line + "\n" }));
    }
    container.append(el("div", { class: "change", "data-path": c.path }, el("h4", { text: `${c.action}: ${c.path}` }), pre));
  }
}

// Show a plan and resolve true when the user confirms.
function confirmPlan(plan, title) {
  return new Promise((resolve) => {
    $("#diff-title").textContent = title;
    $("#diff-note").textContent = plan.deferred
      ? "Routing is off right now: the choice is saved and these edits are written when routing resumes."
      : "These edits are written only when you click Apply. Undo is one click.";
    renderDiffs($("#diff-list"), plan);
    const modal = $("#diff-modal");
    modal.hidden = false;
    const done = (ok) => {
      modal.hidden = true;
      $("#diff-confirm").onclick = null;
      $("#diff-cancel").onclick = null;
      resolve(ok);
    };
    $("#diff-confirm").onclick = () => done(true);
    $("#diff-cancel").onclick = () => done(false);
  });
}

async function toggleScope(tool, scope, on) {
  try {
    const plan = await invoke("preview_tool", { tool, scope: on ? scope : null });
    const t = tools.find((x) => x.name === tool);
    const ok = await confirmPlan(plan, `${on ? "Route" : "Stop routing"} ${t ? t.display_name : tool}${on ? " (" + scope + " scope)" : ""}`);
    if (ok) {
      renderStatus(await invoke("apply_pending"));
    } else {
      await invoke("cancel_pending");
    }
  } catch (e) {
    alert(errText(e));
  }
  loadTools();
}

async function undo() {
  try {
    renderStatus(await invoke("undo_wiring"));
  } catch (e) {
    alert(errText(e));
  }
  loadTools();
}

// ---------- installed deployments ----------
async function loadDeployments() {
  let deps = [];
  try {
    deps = await invoke("list_deployments");
  } catch (e) {
    return alert(errText(e));
  }
  const body = $("#rt-deployments tbody");
  body.replaceChildren();
  if (!deps.length) body.append(el("tr", {}, el("td", { class: "hint", colspan: "5", text: "None installed." })));
  for (const d of deps) {
    const state = d.running ? (d.ready ? "running" : "starting") : d.paused ? "paused" : "stopped";
    const actions = el("td", {});
    for (const action of ["start", "stop", "restart", "remove"]) {
      const b = el("button", { "data-action": action, text: action[0].toUpperCase() + action.slice(1) });
      b.addEventListener("click", () => controlInstalled(d.profile, action));
      actions.append(b, " ");
    }
    body.append(el("tr", { "data-profile": d.profile },
      el("td", { text: d.profile }), el("td", { text: `${d.preset} (${d.supervisor}, ${d.runtime})` }),
      el("td", { text: String(d.port) }), el("td", { text: state + (d.last_error ? " — " + d.last_error : "") }), actions));
    if (d.log_tail && d.log_tail.length) {
      body.append(el("tr", {}, el("td", { colspan: "5" }, el("pre", { class: "log", text: d.log_tail.join("\n") }))));
    }
  }
}

async function controlInstalled(profile, action) {
  if (action === "remove" && !confirm(`Remove the installed deployment "${profile}"? Its files are restored and the app hosts the proxy again.`)) return;
  try {
    renderStatus(await invoke("control_installed", { profile, action }));
  } catch (e) {
    alert(errText(e));
  }
  loadDeployments();
}

async function reviewInstall() {
  const preset = $("#rt-preset").value;
  try {
    const p = await invoke("preview_install", { preset });
    const plan = { deferred: false, changes: [{ path: "Install " + preset, action: "plan", diff: p.summary.join("\n") + "\n\n" + p.diff }] };
    if (await confirmPlan(plan, `Install Headroom as ${preset}`)) {
      renderStatus(await invoke("apply_install"));
    }
  } catch (e) {
    alert(errText(e));
  }
  loadDeployments();
}

// ---------- settings ----------
async function loadSettings() {
  const s = await invoke("get_settings");
  $("#set-port").value = s.port;
  $("#set-anthropic").value = s.anthropic_url;
  $("#set-openai").value = s.openai_url;
  $("#set-notify").checked = s.notifications;
  loadCli();
}

async function saveSettings(ev) {
  ev.preventDefault();
  const msg = $("#set-msg");
  try {
    const current = await invoke("get_settings");
    const settings = Object.assign(current, {
      port: Number($("#set-port").value),
      anthropic_url: $("#set-anthropic").value.trim(),
      openai_url: $("#set-openai").value.trim(),
      notifications: $("#set-notify").checked,
    });
    renderStatus(await invoke("save_settings", { settings }));
    msg.className = "msg";
    msg.textContent = "Saved.";
  } catch (e) {
    msg.className = "msg error";
    msg.textContent = errText(e);
  }
}

async function loadCli() {
  try {
    const s = await invoke("cli_shim_status");
    $("#cli-status").textContent = (s.installed ? `Installed: ${s.path}` : `Not installed (would create ${s.path}).`) + (s.hint ? " " + s.hint : "");
    $("#cli-install").disabled = s.installed;
    $("#cli-remove").disabled = !s.installed;
  } catch (e) {
    $("#cli-status").textContent = errText(e);
  }
}

async function setCli(installed) {
  try {
    await invoke("cli_shim_set", { installed });
  } catch (e) {
    alert(errText(e));
  }
  loadCli();
}

// ---------- wizard ----------
const STEPS = ["welcome", "detect", "scope", "runtime", "review", "verify", "done"];
const wz = { step: 0, tools: [], desired: {}, applied: false };

function wzShow() {
  const name = STEPS[wz.step];
  for (const b of $$(".wz-body")) b.hidden = b.dataset.body !== name;
  for (const li of $$("#wz-steps li")) li.classList.toggle("current", li.dataset.step === name);
  $("#wz-back").disabled = wz.step === 0 || wz.applied;
  $("#wz-cancel").hidden = wz.applied;
  $("#wz-next").textContent = name === "review" ? "Apply" : name === "done" ? "Finish" : "Next";
  $("#wz-error").textContent = "";
  $("#wizard").dataset.step = name;
}

async function openWizard() {
  wz.step = 0;
  wz.applied = false;
  wz.desired = {};
  $("#wizard").hidden = false;
  wzShow();
}

async function wzEnter(name) {
  if (name === "detect") {
    wz.tools = await invoke("list_tools");
    const body = $("#wz-detect tbody");
    body.replaceChildren();
    for (const t of wz.tools) {
      body.append(el("tr", { "data-tool": t.name },
        el("td", { text: t.display_name }),
        el("td", {}, el("span", { class: t.detected ? "yes" : "no", text: t.detected ? "Found" : "Not found" })),
        el("td", { class: "path", text: [t.binary, t.config_exists ? t.config : null].filter(Boolean).join("  ·  ") || "—" })));
    }
  } else if (name === "scope") {
    const body = $("#wz-scope tbody");
    body.replaceChildren();
    for (const t of wz.tools) {
      const sel = el("select", { "data-wz-tool": t.name });
      sel.append(el("option", { value: "", text: "Not routed" }));
      for (const sv of t.scopes) {
        const o = el("option", { value: sv.scope, text: sv.scope + (sv.supported ? "" : " — " + sv.reason), disabled: !sv.supported });
        sel.append(o);
      }
      const preferred = t.wired || (t.detected ? (t.scopes.find((s) => s.supported) || {}).scope : "");
      sel.value = preferred || "";
      body.append(el("tr", {}, el("td", { text: t.display_name }), el("td", {}, sel)));
    }
  } else if (name === "review") {
    wz.desired = {};
    for (const sel of $$("#wz-scope select")) if (sel.value) wz.desired[sel.dataset.wzTool] = sel.value;
    const plan = await invoke("preview_wiring", { desired: wz.desired });
    const box = $("#wz-review");
    renderDiffs(box, plan);
    wz.kind = ($("input[name=wz-runtime]:checked") || {}).value || "in-app";
    wz.install = null;
    if (wz.kind !== "in-app") {
      wz.install = await invoke("preview_install", { preset: wz.kind });
      const pre = el("pre", { class: "diff", text: wz.install.summary.join("\n") + "\n\n" + wz.install.diff });
      box.append(el("div", { class: "install-change" }, el("h4", { text: "Install Headroom as " + wz.kind }), pre));
    }
    const auto = wz.kind === "in-app" && $("#wz-autostart").checked;
    if (auto !== (status && status.autostart)) {
      box.prepend(el("p", { text: auto ? "Start at login: an autostart entry will be added." : "Start at login: the autostart entry will be removed." }));
    }
    if (plan.deferred) box.prepend(el("p", { class: "hint", text: "Routing is off right now; the choices are saved and written when it resumes." }));
  } else if (name === "verify") {
    const list = $("#wz-verify");
    list.replaceChildren(el("li", { text: "Checking…" }));
    const v = await invoke("verify");
    list.replaceChildren(
      el("li", { "data-check": "proxy", class: v.proxy_healthy ? "ok" : "bad", text: (v.proxy_healthy ? "✔ " : "✘ ") + "Proxy healthy" }),
      el("li", { "data-check": "request", class: v.request_ok ? "ok" : "bad", text: (v.request_ok ? "✔ " : "✘ ") + v.request_detail }),
      el("li", { "data-check": "wiring", class: v.wiring_ok ? "ok" : "bad", text: (v.wiring_ok ? "✔ " : "✘ ") + "Tool configs: " + v.wiring_detail }));
  }
}

async function wzNext() {
  const name = STEPS[wz.step];
  try {
    if (name === "review") {
      renderStatus(await invoke("apply_pending"));
      wz.applied = true;
      if (wz.install) renderStatus(await invoke("apply_install"));
      const auto = wz.kind === "in-app" && $("#wz-autostart").checked;
      if (auto !== (status && status.autostart)) renderStatus(await invoke("set_autostart", { enabled: auto }));
    }
    if (name === "done") {
      await invoke("finish_wizard", { done: true });
      $("#wizard").hidden = true;
      loadTools();
      return;
    }
    wz.step += 1;
    await wzEnter(STEPS[wz.step]);
    wzShow();
  } catch (e) {
    $("#wz-error").textContent = errText(e);
  }
}

async function wzBack() {
  if (wz.step > 0 && !wz.applied) {
    wz.step -= 1;
    wzShow();
  }
}

async function wzCancel() {
  // Nothing is written before "Apply"; drop the preview.
  try { await invoke("cancel_pending"); } catch (_) { /* nothing pending */ }
  try { await invoke("finish_wizard", { done: true }); } catch (_) { /* best effort */ }
  $("#wizard").hidden = true;
}

// ---------- boot ----------
async function boot() {
  for (const b of $$(".tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#rt-start").addEventListener("click", () => proxy("start"));
  $("#rt-stop").addEventListener("click", () => proxy("stop"));
  $("#rt-restart").addEventListener("click", () => proxy("restart"));
  $("#rt-repair").addEventListener("click", () => proxy("restart"));
  $("#rt-pause").addEventListener("click", () => proxy(status && status.routing === "paused" ? "resume" : "pause"));
  $("#rt-autostart").addEventListener("change", async (ev) => {
    try { renderStatus(await invoke("set_autostart", { enabled: ev.target.checked })); } catch (e) { alert(errText(e)); }
  });
  $("#undo-btn").addEventListener("click", undo);
  $("#rt-install").addEventListener("click", reviewInstall);
  $("#settings-form").addEventListener("submit", saveSettings);
  $("#cli-install").addEventListener("click", () => setCli(true));
  $("#cli-remove").addEventListener("click", () => setCli(false));
  $("#wizard-rerun").addEventListener("click", openWizard);
  $("#wz-next").addEventListener("click", wzNext);
  $("#wz-back").addEventListener("click", wzBack);
  $("#wz-cancel").addEventListener("click", wzCancel);

  const info = await invoke("app_info");
  $("#banner-notray").hidden = info.tray_available;
  await T.event.listen("status", (ev) => renderStatus(ev.payload));
  renderStatus(await invoke("get_status"));
  if (!status.wizard_done) openWizard();
  document.body.dataset.ready = "1";
}

window.addEventListener("DOMContentLoaded", () => {
  boot().catch((e) => {
    const b = $("#banner-error");
    b.hidden = false;
    b.textContent = "The UI could not start: " + errText(e);
  });
});
