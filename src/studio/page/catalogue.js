// narrate studio's catalogue: each essay of the folder with its edition's state, findings and length, a link to
// its studio (under e/N/), and Build (with its progress) and Cancel for the editions not built or stale. The
// list is asked for again while any essay's work goes on.
// (common.js, before it: token, root, $, api, clock.)
const STATES = {
  "built": "Built",
  "stale": "Stale: the essay or settings changed",
  "not-built": "Not built",
  "failed": "Failed",
  "working": "Working",
};
// The list being followed (a promise that ends when no essay is working), or null.
let following = null;

function button(text, id, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.id = id;
  b.textContent = text;
  b.addEventListener("click", action);
  return b;
}

// What a working essay is doing, in words, and its progress bar (segments synthesized of those to synthesize).
function progressOf(e) {
  const cell = document.createDocumentFragment();
  const what = e.phase === "synthesizing" ? `synthesizing ${e.done} of ${e.total} sentences`
    : e.phase === "joining" ? "joining the edition" : e.phase === "cancelling" ? "cancelling…"
      : e.phase === "checking" ? "checking the edition" : e.phase === "preparing" ? "preparing" : e.phase === "waiting" ? "waiting for its turn" : e.message;
  const text = document.createElement("span");
  text.className = "progress-text";
  text.textContent = what;
  const bar = document.createElement("progress");
  bar.max = Math.max(1, e.total);
  bar.value = e.done;
  bar.setAttribute("aria-label", `${e.essay}: ${what}`);
  cell.append(text, bar);
  return cell;
}

function row(e) {
  const tr = document.createElement("tr");
  tr.dataset.n = e.n;
  tr.dataset.state = e.state;
  const name = document.createElement("th");
  name.scope = "row";
  if (e.title !== null) {
    const a = document.createElement("a");
    a.href = `${e.open}?token=${encodeURIComponent(token)}`;
    a.id = `open-${e.n}`;
    a.className = "essay-link";
    a.textContent = e.title;
    name.append(a);
  } else {
    name.append(e.essay);
  }
  const file = document.createElement("span");
  file.className = "muted essay-file";
  file.textContent = e.essay;
  name.append(file);
  const state = document.createElement("td");
  state.className = "state";
  if (e.state === "working") state.append(progressOf(e));
  else state.textContent = STATES[e.state] + (e.reason ? `: ${e.reason}` : "");
  if (e.state !== "working" && e.message && e.message.startsWith("cancelled")) state.title = e.message;
  const findings = document.createElement("td");
  findings.className = "findings";
  findings.textContent = e.findings === null ? "—" : String(e.findings);
  const length = document.createElement("td");
  length.className = "length";
  length.textContent = e.duration_seconds === null ? "—" : clock(e.duration_seconds);
  const actions = document.createElement("td");
  actions.className = "actions";
  if (e.state === "working") {
    // A build can be cancelled (the check of an edition as it is, at start, is short and changes nothing).
    if (e.phase !== "checking") {
      actions.append(button("Cancel", `cancel-${e.n}`, () => act(e, "api/cancel", `cancelling ${e.essay}…`)));
    }
  } else if (e.state !== "built") {
    const what = e.state === "not-built" ? "Build" : "Rebuild";
    actions.append(button(what, `build-${e.n}`, () => act(e, "api/derive", `building ${e.essay}…`)));
  }
  tr.append(name, state, findings, length, actions);
  return tr;
}

function render(list) {
  const focused = document.activeElement && document.activeElement.id;
  $("essays").replaceChildren(...list.essays.map(row));
  const count = (s) => list.essays.filter((e) => e.state === s).length;
  $("summary").textContent = `${list.essays.length} essay${list.essays.length === 1 ? "" : "s"} · ${count("built")} built` +
    ` · ${count("stale")} stale · ${count("not-built")} not built`;
  // The focus stays on the row's action when the list is drawn again (Build becomes Cancel, and back).
  if (focused) {
    const again = $(focused) || $(focused.replace(/^build-/, "cancel-")) || $(focused.replace(/^cancel-/, "build-"));
    if (again) again.focus();
  }
  const working = list.essays.some((e) => e.state === "working");
  document.body.dataset.state = working ? "working" : "idle";
  return working;
}

async function follow() {
  try {
    for (;;) {
      const working = render(await api("api/catalogue"));
      if (!working) break;
      await new Promise((r) => setTimeout(r, 400));
    }
  } catch (e) {
    document.body.dataset.state = "error";
    $("status").textContent = `error: ${e.message}`;
  }
}

// Draws the list, again and again while any essay is working; resolves once none is.
function refresh() {
  if (!following) following = follow().finally(() => { following = null; });
  return following;
}

async function act(e, path, doing) {
  $("status").textContent = doing;
  try {
    await api(`${e.open}${path}`, {});
  } catch (err) {
    $("status").textContent = `error: ${err.message}`;
  }
  await refresh();
  const now = await api("api/catalogue");
  const after = now.essays[e.n];
  render(now);
  $("status").textContent = `${e.essay}: ${STATES[after.state].toLowerCase()}` +
    (after.message && after.message.startsWith("cancelled") ? ` (${after.message})` : "");
}

refresh();
