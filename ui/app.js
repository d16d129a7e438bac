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

// In-app toasts instead of the browser's alert(): the message, then what to do (the
// "(hint: …)" the app's errors carry), dismissible, gone by themselves after a while.
function toast(message, kind = "error") {
  const text = String(message);
  const m = text.match(/^(.*?)\s*\(hint: (.*)\)\s*$/s);
  const what = m ? m[1] : text;
  const hint = m ? m[2] : "";
  const close = el("button", { class: "toast-close", "aria-label": "Dismiss", text: "×" });
  const t = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    el("div", { class: "toast-text", text: what }),
    hint ? el("div", { class: "toast-hint", text: hint }) : null,
    close);
  close.addEventListener("click", () => t.remove());
  $("#toasts").append(t);
  setTimeout(() => t.remove(), kind === "error" ? 15000 : 4000);
}
const showError = (e) => toast(errText(e), "error");

let status = null;

// ---------- tabs ----------
function showTab(name) {
  for (const b of $$(".tab")) b.classList.toggle("active", b.dataset.tab === name);
  for (const p of $$(".page")) p.hidden = p.id !== "page-" + name;
  if (name === "tools") loadTools();
  if (name === "settings") loadSettings();
  if (name === "runtime") { loadDeployments(); loadInstallOptions(); }
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
  $("#undo-btn").disabled = !s.can_undo;
  $("#undo-btn").title = s.can_undo ? "Revert the last routing change" : "Nothing to undo yet";
}

async function proxy(action) {
  try {
    renderStatus(await invoke("proxy_action", { action }));
  } catch (e) {
    showError(e);
  }
}

// ---------- tools ----------
let tools = [];

const CHOICES = [
  ["off", "Off", "Straight to the provider"],
  ["provider", "This tool's settings", "Edits its config file; works however it starts"],
  ["user", "Shell environment", "Edits your shell startup files; new terminals"],
];

// Home-relative paths read better and never wrap mid-word.
function tidyPath(p) {
  const home = status && status.home;
  return home && p && p.startsWith(home + "/") ? "~" + p.slice(home.length) : p;
}

async function loadTools() {
  try {
    tools = await invoke("list_tools");
  } catch (e) {
    return showError(e);
  }
  const list = $("#tools-list");
  list.replaceChildren();
  if (!tools.some((t) => t.detected)) {
    list.append(el("p", { class: "hint empty", text: "No supported coding tool was found on this machine. Install Claude Code, Codex, Aider, … and they show up here." }));
  }
  for (const t of tools) {
    const scopes = Object.fromEntries(t.scopes.map((sv) => [sv.scope, sv]));
    const current = t.wired === "system" ? "system" : t.wired || "off";
    const group = el("div", { class: "choices", role: "radiogroup", "aria-label": `How ${t.display_name} is routed` });
    for (const [scope, label, help] of CHOICES) {
      const sv = scope === "off" ? { supported: true } : scopes[scope] || { supported: false, reason: "not available" };
      const radio = el("input", {
        type: "radio",
        name: `route-${t.name}`,
        class: "scope-toggle",
        "data-tool": t.name,
        "data-scope": scope,
        disabled: !sv.supported,
        title: sv.reason || help,
      });
      radio.checked = current === scope;
      radio.addEventListener("change", () => {
        if (radio.checked) toggleScope(t.name, scope === "off" ? null : scope);
      });
      group.append(el("label", { class: "choice" + (sv.supported ? "" : " disabled"), title: sv.supported ? help : sv.reason },
        radio,
        el("span", { class: "choice-label", text: label }),
        el("span", { class: "choice-help", text: sv.supported ? help : "Not available" })));
    }
    const unavailable = t.scopes.filter((sv) => !sv.supported && sv.scope !== "system");
    const facts = el("div", { class: "facts" },
      el("span", { class: t.detected ? "yes" : "no", text: t.detected ? "Installed" : "Not found" }),
      t.binary ? el("span", { class: "path", text: tidyPath(t.binary) }) : null,
      t.config ? el("span", { class: "path", text: tidyPath(t.config) + (t.config_exists ? "" : " (not created yet)") }) : null);
    const card = el("div", { class: "card tool-card", "data-tool": t.name },
      el("div", { class: "tool-head" }, el("b", { text: t.display_name }), facts),
      group);
    if (t.current) card.append(el("div", { class: "current", text: "Sends its API calls to " + t.current }));
    for (const sv of unavailable) card.append(el("div", { class: "hint small", text: sv.reason }));
    if (current === "system") card.append(el("div", { class: "hint", text: "Routed for every user of this machine (system scope, set by an administrator)." }));
    list.append(card);
  }
}

// What a change does, in plain words, from the file and the lines it adds.
function summarize(c) {
  const path = tidyPath(c.path);
  const added = c.diff.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++")).join("\n");
  const notes = [];
  const shellFile = /(\.bashrc|\.zshrc|\.profile|\.bash_profile|config\.fish|\.ps1|profile\.d|environment)$/.test(path) || /conf\.d\//.test(path);
  if (shellFile) {
    const vars = [...new Set((added.match(/[A-Z][A-Z0-9_]*(?==)/g) || []))];
    if (vars.length) notes.push(`new terminals send their API calls to Headroom (sets ${vars.join(", ")})`);
  } else {
    if (/ANTHROPIC_BASE_URL/.test(added)) notes.push("Claude Code sends its API calls to Headroom");
    if (/model_provider|model_providers/.test(added)) notes.push("Codex uses a \"headroom\" provider that points at Headroom");
    if (/"headroom"/.test(added) && /opencode/i.test(path)) notes.push("OpenCode gets a Headroom provider");
  }
  if (/ENABLE_TOOL_SEARCH/.test(added)) notes.push("keeps Claude Code's tool search on (it switches it off for any non-Anthropic URL, which would make every request carry all MCP tool schemas)");
  const verb = c.action === "create" ? "Creates" : c.action === "delete" ? "Deletes" : "Edits";
  let text = `${verb} ${path}`;
  if (notes.length) text += ": " + notes.join("; ");
  else if (c.action !== "create") text += ": takes Headroom's settings back out (your own lines stay)";
  return text + ".";
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
    const what = c.summary
      ? el("ul", { class: "summary" }, ...c.summary.map((line) => el("li", { text: line })))
      : el("p", { class: "summary", text: summarize(c) });
    container.append(el("div", { class: "change", "data-path": c.path },
      what,
      el("details", {}, el("summary", { text: c.summary ? "Show every file and command" : "Show the exact edit" }), pre)));
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

const SCOPE_WORDS = { provider: "through its own settings", user: "through your shell environment", system: "for every user" };

async function toggleScope(tool, scope) {
  try {
    const plan = await invoke("preview_tool", { tool, scope });
    const t = tools.find((x) => x.name === tool);
    const name = t ? t.display_name : tool;
    const ok = await confirmPlan(plan, scope ? `Route ${name} ${SCOPE_WORDS[scope] || ""}` : `Stop routing ${name}`);
    if (ok) {
      renderStatus(await invoke("apply_pending"));
    } else {
      await invoke("cancel_pending");
    }
  } catch (e) {
    showError(e);
  }
  loadTools();
}

async function undo() {
  try {
    renderStatus(await invoke("undo_wiring"));
  } catch (e) {
    showError(e);
  }
  loadTools();
}

// ---------- installed deployments ----------
async function loadDeployments() {
  let deps = [];
  try {
    deps = await invoke("list_deployments");
  } catch (e) {
    return showError(e);
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
    showError(e);
  }
  loadDeployments();
}

// Offer only the installs that can work here; the others stay visible, disabled, with why.
async function loadInstallOptions() {
  let options = [];
  try { options = await invoke("install_options"); } catch (_) { return; }
  for (const o of options) {
    const opt = document.querySelector(`#rt-preset option[value="${o.preset}"]`);
    const radio = document.querySelector(`input[name=wz-runtime][value="${o.preset}"]`);
    for (const node of [opt, radio]) if (node) node.disabled = !o.available;
    if (opt && !o.available) opt.textContent = opt.textContent.replace(/ — .*$/, "") + " — " + o.reason;
    if (radio && !o.available) radio.closest("label").title = o.reason;
  }
  const sel = $("#rt-preset");
  if (sel.selectedOptions[0] && sel.selectedOptions[0].disabled) {
    const first = Array.from(sel.options).find((o) => !o.disabled);
    if (first) sel.value = first.value;
  }
  $("#rt-install").disabled = !options.some((o) => o.available);
}

async function reviewInstall() {
  const preset = $("#rt-preset").value;
  try {
    const p = await invoke("preview_install", { preset });
    const plan = { deferred: false, changes: [{ path: "Install " + preset, action: "plan", summary: p.summary, diff: p.diff }] };
    if (await confirmPlan(plan, `Install Headroom as ${preset}`)) {
      renderStatus(await invoke("apply_install"));
    }
  } catch (e) {
    showError(e);
  }
  loadDeployments();
}

// ---------- settings ----------
async function loadSettings() {
  const s = await invoke("get_settings");
  // Show the port actually in use; HEADROOM_PORT overrides the saved one for this run.
  const fromEnv = status && status.port_from_env;
  $("#set-port").value = fromEnv ? status.port : s.port;
  $("#set-port").disabled = !!fromEnv;
  $("#set-port-note").textContent = fromEnv
    ? `Port ${status.port} comes from HEADROOM_PORT for this run; unset it to choose the port here.`
    : "";
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
    const before = JSON.stringify(current);
    const settings = Object.assign(current, {
      port: $("#set-port").disabled ? current.port : Number($("#set-port").value),
      anthropic_url: $("#set-anthropic").value.trim(),
      openai_url: $("#set-openai").value.trim(),
      notifications: $("#set-notify").checked,
    });
    if (JSON.stringify(settings) === before) {
      msg.className = "msg";
      msg.textContent = "Nothing changed.";
      return;
    }
    renderStatus(await invoke("save_settings", { settings }));
    msg.className = "msg";
    msg.textContent = "Saved and applied.";
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
    showError(e);
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
  if (name === "runtime") loadInstallOptions();
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
      // Least invasive default: the tool's own settings file when it has one; a tool that
      // can only be routed through the shell environment starts unrouted (the user opts in).
      const own = t.scopes.find((s) => s.scope === "provider" && s.supported);
      const preferred = t.wired || (t.detected && own ? "provider" : "");
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
  } else if (name === "done") {
    const routed = Object.keys(wz.desired || {});
    const names = wz.tools.filter((t) => routed.includes(t.name)).map((t) => t.display_name);
    const shell = Object.values(wz.desired || {}).includes("user");
    $("#wz-done-title").textContent = names.length ? "All set" : "Headroom is running";
    $("#wz-done-text").textContent = names.length
      ? `Headroom is routing ${names.join(", ")}.` + (shell ? " Open a new terminal so the shell environment change takes effect." : "")
      : "No tool is routed yet. Choose tools on the Tools page when you are ready, or run one through Headroom with `headroom wrap <tool>`.";
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
  $("#rt-repair").addEventListener("click", () => proxy("repair"));
  $("#rt-pause").addEventListener("click", () => proxy(status && status.routing === "paused" ? "resume" : "pause"));
  $("#rt-autostart").addEventListener("change", async (ev) => {
    try { renderStatus(await invoke("set_autostart", { enabled: ev.target.checked })); } catch (e) { showError(e); }
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
