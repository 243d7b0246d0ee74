// Switchyard console: the only script the pages load (the CSP allows no
// inline script). Every state change is a call to the /v1 admin API with
// the session's CSRF header; every value from the server is put in the
// page as text (textContent), never as HTML, but for the sinks list's rows,
// which the server renders with html/template's escaping.
"use strict";

const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, path, body) {
  const headers = { "X-Switchyard-CSRF": csrf, "X-Switchyard-Actor": "console" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401 && path !== "/v1/session") { // the session ended: log in again
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
  }
  return { ok: resp.ok, status: resp.status, data };
}

function $(sel, root) { return (root || document).querySelector(sel); }
function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }
function say(el, text, isError) {
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle("error", !!isError);
}
function errText(r) { return (r.data && r.data.error) || ("HTTP " + r.status); }
function esc(s) { return encodeURIComponent(s); }

// Login.
const loginForm = $("#login-form");
if (loginForm) {
  loginForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/v1/session", { token: $("#token").value });
    if (r.ok) {
      location.assign(loginForm.dataset.next || "/");
    } else {
      say($("#login-error"), r.status === 401 ? "That is not the admin token." : errText(r), true);
      $("#token").select();
    }
  });
}
const logout = $("#logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await api("DELETE", "/v1/session");
    location.assign("/login");
  });
}

// Sinks list: poll the server-rendered rows every 2 s.
const rows = $("#sink-rows");
if (rows) {
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const resp = await fetch(rows.dataset.src + location.search, { credentials: "same-origin" });
      if (resp.ok) {
        rows.innerHTML = await resp.text(); // escaped by html/template on the server
        const meta = $("tr[data-count]", rows);
        if (meta) {
          $("#sink-count").textContent = meta.dataset.count;
          $("#sink-updated").textContent = meta.dataset.updated;
        }
      }
    } finally { busy = false; }
  }, 2000);
}

// Field errors from the validator (422 {errors: [{field, message}]}),
// shown next to the field whose name they start with.
function showFieldErrors(form, all, errors) {
  for (const p of $$(".field-error", form)) p.textContent = "";
  for (const f of $$(".field", form)) f.classList.remove("invalid");
  const rest = [];
  for (const e of errors || []) {
    let best = null;
    for (const f of $$(".field", form)) {
      const k = f.dataset.field;
      if (k && (e.field === k || e.field.startsWith(k + ".") || e.field.startsWith(k + "["))) {
        if (!best || k.length > best.dataset.field.length) best = f;
      }
    }
    if (best) {
      const p = $(".field-error", best);
      p.textContent = (p.textContent ? p.textContent + " " : "") + (e.field === best.dataset.field ? "" : e.field + ": ") + e.message;
      best.classList.add("invalid");
    } else {
      rest.push((e.field ? e.field + ": " : "") + e.message);
    }
  }
  say(all, rest.join("\n"), true);
  const first = $(".field.invalid input, .field.invalid textarea", form);
  if (first) first.focus();
}

function listOf(s) { return s.split(",").map((x) => x.trim()).filter(Boolean); }
function headersOf(s) {
  const out = {};
  for (const line of s.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// A sink's buttons.
const sinkActions = $(".actions[data-sink]");
if (sinkActions) {
  const name = sinkActions.dataset.sink;
  const status = $("#action-status");
  sinkActions.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-action]");
    if (!b) return;
    const act = b.dataset.action;
    b.disabled = true;
    try {
      if (act === "pause" || act === "resume") {
        say(status, act === "pause" ? "Pausing…" : "Resuming…");
        const r = await api("POST", "/v1/sinks/" + esc(name) + "/" + act, act === "pause" ? { reason: "paused from the console" } : undefined);
        if (!r.ok) { say(status, errText(r), true); return; }
        location.reload();
      } else if (act === "test") {
        say(status, "Sending a test event…");
        const r = await api("POST", "/v1/sinks/" + esc(name) + "/test");
        if (!r.ok) { say(status, errText(r), true); return; }
        say(status, "");
        const t = r.data;
        $("#test-outcome").textContent = t.ok ? "delivered" : "failed" + (t.error ? ": " + t.error : "");
        $("#test-status").textContent = t.status ? String(t.status) : "–";
        $("#test-latency").textContent = t.duration_ms + " ms";
        $("#test-id").textContent = t.event_id || "–";
        $("#test-response").textContent = t.response || "(empty)";
        $("#test-result").hidden = false;
        $("#test-result").classList.toggle("failed", !t.ok);
      } else if (act === "rotate") {
        if (!(await confirmDialog("Rotate the signing secret of " + name + "? The current secret keeps signing for 24 hours."))) return;
        const r = await api("POST", "/v1/sinks/" + esc(name) + "/secrets/rotate");
        if (!r.ok) { say(status, errText(r), true); return; }
        $("#rotate-secret").textContent = r.data.secret;
        $("#rotate-expires").textContent = r.data.previous_expires_at;
        $("#rotate-result").hidden = false;
        $("#rotate-secret").focus();
      }
    } finally { b.disabled = false; }
  });
}

// Edit an API sink: a merge patch of the fields shown.
const editForm = $("#edit-form");
if (editForm) {
  editForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const patch = { events: listOf($("#e-events").value), description: $("#e-description").value };
    if ($("#e-url")) {
      const old = JSON.parse(editForm.dataset.headers || "{}");
      const headers = headersOf($("#e-headers").value);
      for (const k of Object.keys(old)) if (!(k in headers)) headers[k] = null;
      patch[editForm.dataset.block] = { url: $("#e-url").value, headers };
    }
    const r = await api("PATCH", "/v1/sinks/" + esc(editForm.dataset.sink), patch);
    if (r.ok) {
      showFieldErrors(editForm, $("#edit-errors"), []);
      say($("#edit-status"), "Saved.");
      setTimeout(() => location.reload(), 600);
    } else if (r.status === 422) {
      showFieldErrors(editForm, $("#edit-errors"), r.data.errors);
    } else {
      say($("#edit-errors"), errText(r), true);
    }
  });
}

// Create a sink.
const createForm = $("#create-form");
if (createForm) {
  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    let webhook = {};
    const extra = $("#c-extra").value.trim();
    if (extra) {
      try { webhook = JSON.parse(extra); } catch (err) {
        showFieldErrors(createForm, $("#create-errors"), [{ field: "webhook", message: "not JSON: " + err.message }]);
        return;
      }
    }
    webhook.url = $("#c-url").value;
    const headers = headersOf($("#c-headers").value);
    if (Object.keys(headers).length) webhook.headers = headers;
    const def = { name: $("#c-name").value.trim(), events: listOf($("#c-events").value), webhook };
    if ($("#c-tenant").value.trim()) def.tenant = $("#c-tenant").value.trim();
    if ($("#c-description").value) def.description = $("#c-description").value;
    const r = await api("POST", "/v1/sinks", def);
    if (r.ok) {
      showFieldErrors(createForm, $("#create-errors"), []);
      createForm.hidden = true;
      const secrets = (r.data.webhook && r.data.webhook.generated_secret) || r.data.secret || "";
      $("#created-link").href = "/sinks/" + esc(def.name);
      $("#created-link").textContent = "Open the sink " + def.name;
      if (secrets) {
        $("#created-secret").textContent = secrets;
      } else {
        $("#created-secret").textContent = "(none generated: the definition names its secrets)";
      }
      $("#create-secret").hidden = false;
      $("#created-link").focus();
    } else if (r.status === 422) {
      showFieldErrors(createForm, $("#create-errors"), r.data.errors);
    } else {
      showFieldErrors(createForm, $("#create-errors"), [{ field: "", message: errText(r) }]);
    }
  });
}

// A confirmation that says what will happen; resolves true on Confirm.
function confirmDialog(text) {
  const d = $("#confirm");
  if (!d) return Promise.resolve(window.confirm(text));
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
    $("#confirm-cancel").focus();
  });
}

// Dead letters: select, redrive, purge.
const dl = $("#dead-letters");
if (dl) {
  const picks = () => $$(".dl-pick", dl).filter((c) => c.checked);
  const sync = () => {
    const n = picks().length;
    for (const b of $$('button[data-scope="selected"]', dl)) {
      b.disabled = n === 0;
      b.textContent = (b.dataset.dl === "redrive" ? "Redrive" : "Purge") + " selected" + (n ? " (" + n + ")" : "");
    }
  };
  $("#dl-all").addEventListener("change", (e) => {
    for (const c of $$(".dl-pick", dl)) c.checked = e.target.checked;
    sync();
  });
  dl.addEventListener("change", (e) => { if (e.target.classList.contains("dl-pick")) sync(); });
  dl.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-dl]");
    if (!b) return;
    const op = b.dataset.dl, sink = dl.dataset.sink, all = b.dataset.scope === "all";
    const n = all ? dl.dataset.all : String(picks().length);
    const verb = op === "redrive" ? "Redrive" : "Purge";
    const what = verb + " " + n + " dead letter" + (n === "1" ? "" : "s") + " of " + sink + "?" +
      (op === "purge" ? " They are deleted for good." : " They go back to the sink now.");
    if (!(await confirmDialog(what))) return;
    const path = "/v1/sinks/" + esc(sink) + "/dead-letters" + (op === "redrive" ? "/redrive" : "");
    const method = op === "redrive" ? "POST" : "DELETE";
    let total = 0;
    const queries = all ? [dl.dataset.filter] : picks().map((c) =>
      new URLSearchParams({ type: c.dataset.type, since: c.dataset.since, until: c.dataset.until }).toString());
    for (const q of queries) {
      const r = await api(method, path + (q ? "?" + q : ""));
      if (!r.ok) { say($("#dl-status"), errText(r), true); return; }
      total += r.data.redriven || r.data.deleted || 0;
    }
    say($("#dl-status"), (op === "redrive" ? "Redrove " : "Purged ") + total + " dead letter" + (total === 1 ? "" : "s") + ".");
    const gone = all ? $$(".dl-pick", dl) : picks();
    for (const c of gone) c.closest("tr").remove();
    sync();
  });
}

// Replay: start, follow, cancel.
const replayForm = $("#replay-form");
if (replayForm) {
  let timer = null, current = "";
  const toRFC3339 = (v) => (v.length === 16 ? v + ":00" : v) + "Z";
  const show = (st) => {
    $("#replay-progress").hidden = false;
    $("#replay-id").textContent = st.id + " (" + st.sink + ")";
    const bar = $("#replay-bar");
    bar.max = Math.max(st.total, 1);
    bar.value = st.state === "done" && st.total === 0 ? 1 : st.done;
    let text = st.state + ": " + st.done + " of " + st.total + " events";
    if (st.rate_per_second) text += ", " + st.rate_per_second.toFixed(1) + "/s";
    if (st.state === "running" && st.eta_seconds) text += ", about " + Math.ceil(st.eta_seconds) + " s left";
    if (st.error) text += " (" + st.error + ")";
    $("#replay-text").textContent = text;
    $("#replay-progress").dataset.state = st.state;
    $("#replay-cancel").hidden = st.state !== "running";
  };
  const watch = (id) => {
    current = id;
    clearInterval(timer);
    const tick = async () => {
      const r = await api("GET", "/v1/replays/" + esc(id));
      if (!r.ok) { say($("#replay-error"), errText(r), true); clearInterval(timer); return; }
      show(r.data);
      if (r.data.state !== "running") clearInterval(timer);
    };
    tick();
    timer = setInterval(tick, 500);
  };
  replayForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { since: toRFC3339($("#r-since").value) };
    if ($("#r-until").value) body.until = toRFC3339($("#r-until").value);
    const types = listOf($("#r-types").value);
    if (types.length) body.types = types;
    const r = await api("POST", "/v1/sinks/" + esc($("#r-sink").value) + "/replay", body);
    if (!r.ok) { say($("#replay-error"), errText(r), true); return; }
    say($("#replay-error"), "");
    show(r.data);
    history.replaceState(null, "", "/replay?id=" + esc(r.data.id));
    watch(r.data.id);
  });
  $("#replay-cancel").addEventListener("click", async () => {
    const r = await api("DELETE", "/v1/replays/" + esc(current));
    if (!r.ok) { say($("#replay-error"), errText(r), true); return; }
    show(r.data);
  });
  if (replayForm.dataset.watch) watch(replayForm.dataset.watch);
}
