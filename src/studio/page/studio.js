// narrate studio: renders the edition's chapters and sentences from its manifest and follows the audio, the
// word being spoken marked inside its sentence; a click plays one sentence, from the word clicked. New takes and trial pronunciations are heard first (only that sentence is synthesized);
// "Keep", a text change, a saved pronunciation or "Redo" changes the essay's files and the studio re-derives the
// edition in the background, while the page shows what it is doing and how far it is (with Cancel) and reloads
// the player where it was. Each sentence shows a small waveform of its audio, fetched a page at a time.
// (common.js, before it: token, root, $, api, clock.)
const player = $("player");
const takePlayer = $("take-player");
const statusLine = $("status");
const takeInfo = $("take-info");
const buttons = {
  play: $("play"),
  prevSentence: $("prev-sentence"),
  nextSentence: $("next-sentence"),
  newTake: $("new-take"),
  prevTake: $("prev-take"),
  nextTake: $("next-take"),
  keep: $("keep"),
  compare: $("compare"),
  edit: $("edit"),
  pronounce: $("pronounce"),
  redo: $("redo"),
};
// A toolbar button's name: its label (hidden on a phone, where the icon shows) and its tooltip.
function name(button, text) {
  (button.querySelector(".label") || button).textContent = text;
  button.title = text;
}
for (const b of document.querySelectorAll(".controls[role=toolbar] button")) b.title = b.textContent.trim();

let edition = null;
let selected = null;
// The take of the selected sentence being heard (null: the edition's own).
let hearing = null;
let stopAt = null;
let busy = false;
// The studio's edition version the player has loaded, and a message to show once a newer one is loaded.
let version = 0;
let afterDerive = null;
let watching = false;
let watchAgain = false;
// After a text change, the sentence at this place is selected again (its id changes with its text).
let reselectAt = null;

function say(text) { statusLine.textContent = text; }
function setState(state) { document.body.dataset.state = state; }

function withToken(url) { return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`; }
function segments() { return edition ? edition.manifest.segments : []; }
// Under a catalogue (`narrate studio FOLDER`) this essay's studio is at …/e/N/: a link back to the list.
if (/\/e\/\d+\/$/.test(root)) {
  $("to-catalogue").href = `${root.replace(/e\/\d+\/$/, "")}?token=${encodeURIComponent(token)}`;
  $("to-catalogue").hidden = false;
}
function segment(id) { return segments().find((s) => s.id === id); }
function takesOf(id) { return (edition && edition.takes[id]) || { take: 1, latest: 1 }; }

function audioUrl() {
  return withToken(`${root}edition/${encodeURIComponent(edition.manifest.audio)}?v=${version}`);
}

// Book scale: a chapter's sentences are cut into pages of PAGE; a page's sentences are in the DOM only while it
// is near the view (an IntersectionObserver fills and empties pages, an empty page keeps its height), so an
// edition of 10,000 sentences holds a few hundred sentence nodes at once. What a sentence shows (selected,
// speaking, marked stale, a finding, its takes) is kept here and applied whenever its page is filled.
const PAGE = 25;
let pages = [];
const pageOf = new Map();
let observer = null;
// Pixels of text per character, for the height of a page not yet filled (measured on the first one filled).
let pixelsPerChar = 0.55;
let measured = false;
let staleIds = new Set();
let findingTitles = new Map();
let speakingId = null;

function render() {
  const m = edition.manifest;
  $("title").textContent = m.title;
  document.title = `${m.title} — narrate studio`;
  const nav = $("chapters");
  const text = $("text");
  nav.replaceChildren();
  text.replaceChildren();
  if (observer) observer.disconnect();
  observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const page = pages[Number(e.target.dataset.page)];
      if (e.isIntersecting) fill(page); else empty(page);
    }
  }, { rootMargin: "100% 0px" });
  pages = [];
  pageOf.clear();
  staleIds = new Set(edition.stale || []);
  const byChapter = new Map();
  for (const s of m.segments) {
    if (!byChapter.has(s.chapter)) byChapter.set(s.chapter, []);
    byChapter.get(s.chapter).push(s);
  }
  const titles = new Map(m.chapters.map((c) => [c.index, c]));
  for (const c of m.chapters) {
    const item = document.createElement("li");
    const jump = document.createElement("button");
    jump.type = "button";
    jump.className = "chapter-link";
    jump.textContent = c.title;
    jump.addEventListener("click", () => playChapter(c));
    const length = document.createElement("span");
    length.className = "duration";
    length.textContent = clock(c.end_seconds - c.start_seconds);
    // Its loudness and true peak, once the check has measured them (renderLevels).
    const level = document.createElement("span");
    level.className = "level";
    level.dataset.chapter = String(m.chapters.indexOf(c));
    item.append(jump, length, level);
    nav.append(item);
  }
  // Chapters in reading order (a segment before any chapter gets a section of its own, untitled).
  const order = [...new Set([...titles.keys(), ...byChapter.keys()])].sort((a, b) => a - b);
  for (const index of order) {
    const c = titles.get(index);
    text.append(chapterSection(c ? c.title : "", c ? c.level : 2, byChapter.get(index) || []));
  }
  renderTimeline(m);
  $("length").textContent = `${clock(m.duration_seconds)} · ${m.chapters.length} chapter${m.chapters.length === 1 ? "" : "s"}` +
    ` · ${m.segments.length} sentence${m.segments.length === 1 ? "" : "s"}`;
  buttons.redo.hidden = staleIds.size === 0;
  name(buttons.redo, `Redo ${staleIds.size} marked sentence${staleIds.size === 1 ? "" : "s"}`);
  if (edition.plan_error) say(`error: ${edition.plan_error}`);
  if (selected && !segment(selected)) {
    const there = reselectAt !== null ? m.segments[reselectAt] : null;
    selected = there ? there.id : null;
  }
  reselectAt = null;
  // The first screens are filled now; the observer fills the rest as they come near.
  let height = 0;
  for (const page of pages) {
    if (height > 3 * window.innerHeight) break;
    fill(page);
    height += page.el.getBoundingClientRect().height;
  }
  for (const page of pages) observer.observe(page.el);
  if (selected) select(selected, true);
  renderFindings(edition.status && edition.status.findings);
  renderLevels(edition.status && edition.status.levels);
  highlight(true);
  // For the book-scale measurements (Performance API): when the first text was on the page.
  if (!performance.getEntriesByName("narrate:rendered").length) performance.mark("narrate:rendered");
}

// A chapter's section: its heading (a spoken heading is its sentence, clickable like one) and its pages.
function chapterSection(title, level, segs) {
  const part = document.createElement("section");
  part.className = "chapter";
  const heading = document.createElement(level <= 1 ? "h2" : "h3");
  heading.className = "chapter-title";
  heading.textContent = title;
  part.append(heading);
  let body = segs;
  if (segs.length && segs[0].text === title) {
    heading.textContent = "";
    heading.append(...sentenceNodes(segs[0], false));
    body = segs.slice(1);
  }
  for (let at = 0; at < body.length; at += PAGE) {
    const el = document.createElement("p");
    el.className = "page";
    const page = { el, segs: body.slice(at, at + PAGE), filled: false, chars: 0 };
    el.dataset.page = pages.length;
    for (const s of page.segs) {
      pageOf.set(s.id, pages.length);
      page.chars += s.text.length + 1;
    }
    el.style.height = `${Math.ceil(page.chars * pixelsPerChar)}px`;
    pages.push(page);
    part.append(el);
  }
  return part;
}

function fill(page) {
  if (!page || page.filled) return;
  const nodes = [];
  for (const s of page.segs) nodes.push(...sentenceNodes(s, true));
  page.el.replaceChildren(...nodes);
  page.el.style.height = "";
  page.filled = true;
  wavesFor(page);
  if (!measured && page.chars > 200) {
    measured = true;
    pixelsPerChar = page.el.getBoundingClientRect().height / page.chars;
  }
}

// Each segment's small waveform by cache key, fetched a page at a time as pages are filled (the studio computes
// each once, from the cache); a key's audio never changes, so what is here stays good.
const waves = new Map();
const asked = new Set();

async function wavesFor(page) {
  // The page's chapter: its filled pages and its heading (a spoken heading is a sentence too).
  const part = page.el.parentElement || page.el;
  const undrawn = () => [...part.querySelectorAll("canvas.sentence-wave:not([data-drawn])")];
  const keys = [...new Set(undrawn().map((c) => c.dataset.key))].filter((k) => k && !waves.has(k) && !asked.has(k));
  if (keys.length) {
    keys.forEach((k) => asked.add(k));
    try {
      const answer = await api(`api/waves?keys=${keys.join(",")}`);
      for (const [k, peaks] of Object.entries(answer.waves)) waves.set(k, peaks);
    } catch (e) {
      keys.forEach((k) => asked.delete(k));
      return;
    }
  }
  for (const c of undrawn()) {
    if (waves.has(c.dataset.key)) drawPeaks(c, waves.get(c.dataset.key), "--muted");
  }
}

// A page far from the view gives its sentences up, keeping its height (not the one holding the focus).
function empty(page) {
  if (!page.filled || page.el.contains(document.activeElement)) return;
  page.el.style.height = `${page.el.getBoundingClientRect().height}px`;
  page.el.replaceChildren();
  page.filled = false;
}

// The sentence's element, its page filled first.
function ensure(id) {
  const at = pageOf.get(id);
  if (at !== undefined) fill(pages[at]);
  return $(`s-${id}`);
}

// A sentence's span (with what it shows now), its takes badge when it has several, and the space after it.
function sentenceNodes(s, spaced) {
  const span = document.createElement("span");
  span.className = "sentence";
  span.id = `s-${s.id}`;
  span.dataset.id = s.id;
  span.tabIndex = 0;
  span.setAttribute("role", "button");
  span.setAttribute("aria-label", `Play: ${s.text}`);
  if (staleIds.has(s.id)) span.classList.add("stale");
  if (findingTitles.has(s.id)) {
    span.classList.add("finding");
    span.title = findingTitles.get(s.id);
  }
  if (s.id === selected) span.classList.add("selected");
  if (s.id === speakingId) {
    span.classList.add("speaking");
    span.setAttribute("aria-current", "true");
  }
  words(span, s);
  span.addEventListener("click", () => { select(s.id); playSegment(s.id); });
  const nodes = [span];
  // Its small waveform (drawn once the page's waveforms are fetched: wavesFor).
  const wave = document.createElement("canvas");
  wave.className = "sentence-wave";
  wave.width = 48;
  wave.height = 14;
  wave.dataset.key = s.cache_key;
  wave.setAttribute("aria-hidden", "true");
  if (waves.has(s.cache_key)) drawPeaks(wave, waves.get(s.cache_key), "--muted");
  nodes.push(wave);
  const made = takesOf(s.id).latest;
  if (made > 1) {
    const badge = document.createElement("sup");
    badge.className = "takes";
    badge.textContent = `${made} takes`;
    nodes.push(badge);
  }
  if (spaced) nodes.push(" ");
  return nodes;
}

function playChapter(c) {
  stopAt = null;
  player.currentTime = c.start_seconds;
  player.play().catch(() => {});
}

// The whole edition in one strip: its chapters as blocks as wide as they are long, the check's findings as
// marks, the playhead. A pointer convenience (the chapter list is the same for keyboards and screen readers):
// a click plays from that point.
function renderTimeline(m) {
  const strip = $("timeline-chapters");
  strip.replaceChildren();
  for (const c of m.chapters) {
    const block = document.createElement("div");
    block.className = "timeline-chapter";
    block.dataset.index = c.index;
    block.style.flexGrow = String(Math.max(c.end_seconds - c.start_seconds, 0.001));
    block.textContent = c.title;
    block.title = `${c.title} (${clock(c.end_seconds - c.start_seconds)})`;
    strip.append(block);
  }
}

function renderMarks(findings) {
  const marks = $("timeline-marks");
  marks.replaceChildren();
  const total = edition ? edition.manifest.duration_seconds : 0;
  if (!total) return;
  for (const f of findings || []) {
    const s = f.segment && segment(f.segment);
    if (!s) continue;
    const mark = document.createElement("span");
    mark.dataset.segment = s.id;
    mark.style.left = `${(100 * s.start_seconds) / total}%`;
    marks.append(mark);
  }
}

function movePlayhead() {
  const total = edition ? edition.manifest.duration_seconds : 0;
  if (total) $("playhead").style.left = `${Math.min(100, (100 * player.currentTime) / total)}%`;
  const c = edition && edition.manifest.chapters.find((c) => player.currentTime >= c.start_seconds && player.currentTime < c.end_seconds);
  for (const el of document.querySelectorAll(".timeline-chapter[data-current]")) el.removeAttribute("data-current");
  if (c) {
    const block = document.querySelector(`.timeline-chapter[data-index="${c.index}"]`);
    if (block) block.dataset.current = "true";
  }
}

// Each chapter's loudness (integrated, LUFS) and true peak (dBTP) as the check measured them, beside its length.
function renderLevels(levels) {
  for (const span of document.querySelectorAll("#chapters .level")) {
    const l = (levels || [])[Number(span.dataset.chapter)];
    span.textContent = l && Number.isFinite(l.integrated_lufs) && Number.isFinite(l.true_peak_dbtp)
      ? `${l.integrated_lufs.toFixed(1)} LUFS · peak ${l.true_peak_dbtp.toFixed(1)} dBTP` : "";
    span.title = l ? "loudness over the chapter, and its highest true peak" : "";
  }
}

// The check's findings: listed beside the text, marked on their sentences and on the timeline, each with its fix.
function renderFindings(findings) {
  renderMarks(findings);
  findingTitles = new Map();
  for (const el of document.querySelectorAll(".sentence.finding")) {
    el.classList.remove("finding");
    el.removeAttribute("title");
  }
  const list = $("findings");
  list.replaceChildren();
  if (!findings) { $("check-summary").textContent = "checking…"; return; }
  $("check-summary").textContent = findings.length
    ? `${findings.length} finding${findings.length === 1 ? "" : "s"}`
    : "no findings: nothing silent, cut short, clipped or clicking";
  for (const f of findings) {
    const item = document.createElement("li");
    item.className = "finding-item";
    item.dataset.kind = f.kind;
    if (f.segment) item.dataset.segment = f.segment;
    const what = document.createElement("span");
    what.textContent = `${f.kind}: ${f.message} `;
    item.append(what);
    if (f.segment) findingTitles.set(f.segment, `${f.kind}: ${f.message}`);
    const el = f.segment && $(`s-${f.segment}`);
    if (el) {
      el.classList.add("finding");
      el.title = `${f.kind}: ${f.message}`;
    }
    const fix = document.createElement("button");
    fix.type = "button";
    fix.className = "fix";
    if (f.remedy.action === "regen" && f.segment && segment(f.segment)) {
      fix.textContent = "Fix: new take and keep it";
      fix.addEventListener("click", () => fixWithNewTake(f.segment));
    } else if (f.remedy.action === "rebuild") {
      fix.textContent = "Fix: rebuild the edition";
      fix.addEventListener("click", () => rederive("rebuilding the edition…"));
    } else {
      const code = document.createElement("code");
      code.textContent = f.remedy.command;
      item.append(code);
      list.append(item);
      continue;
    }
    item.append(fix);
    list.append(item);
  }
}

function showTakes() {
  if (!selected) { takeInfo.textContent = ""; return; }
  const t = takesOf(selected);
  const heard = hearing || t.take;
  takeInfo.textContent = `segment ${selected}: take ${heard} of ${t.latest}` +
    (heard === t.take ? " (kept)" : ` (kept: ${t.take})`);
  const idle = !busy && document.body.dataset.state !== "loading";
  buttons.newTake.disabled = !idle;
  buttons.prevTake.disabled = !idle || heard <= 1;
  buttons.nextTake.disabled = !idle || heard >= t.latest;
  buttons.keep.disabled = !idle || heard === t.take;
  buttons.compare.disabled = !idle;
  $("make-three").disabled = !idle;
  buttons.edit.disabled = !idle;
  buttons.pronounce.disabled = !idle;
}

// A sentence's text, each written word the voice said a span of its own with where it is in the audio
// (edition.runs: a run is plain text, or [text, start, end] in seconds); a click on a word plays from there.
function words(span, s) {
  const runs = (edition.runs && edition.runs[s.id]) || [s.text];
  for (const run of runs) {
    if (typeof run === "string") { span.append(run); continue; }
    const [text, start, end] = run;
    const word = document.createElement("span");
    word.className = "word";
    word.textContent = text;
    word.dataset.start = start;
    word.dataset.end = end;
    word.addEventListener("click", (event) => {
      event.stopPropagation();
      select(s.id);
      playFrom(start, s.end_seconds);
    });
    span.append(word);
  }
}

function select(id, keepHearing) {
  if (id !== selected) $("takes-panel").hidden = true;
  if (selected !== id || !keepHearing) hearing = null;
  selected = id;
  for (const el of document.querySelectorAll(".sentence.selected")) el.classList.remove("selected");
  const el = $(`s-${id}`);
  if (el) el.classList.add("selected");
  showTakes();
}

function playSegment(id) {
  const s = segment(id);
  if (s) playFrom(s.start_seconds, s.end_seconds);
}

function playFrom(seconds, until) {
  takePlayer.pause();
  player.currentTime = seconds;
  stopAt = until;
  player.play().catch(() => {});
}

function segmentAt(t) { return segments().find((s) => t >= s.start_seconds && t < s.end_seconds); }

// The sentence being spoken, from the manifest's spans, and in it the word being spoken; followed into view
// while playing and after a seek (`jumped`).
function highlight(jumped) {
  if (!edition) return;
  const t = player.currentTime;
  if (stopAt !== null && t >= stopAt) { player.pause(); stopAt = null; }
  const s = segmentAt(t);
  const id = s ? s.id : null;
  const follow = jumped === true || !player.paused;
  const changed = id !== speakingId;
  speakingId = id;
  const old = document.querySelector(".sentence.speaking");
  if (old && old.dataset.id !== id) { old.classList.remove("speaking"); old.removeAttribute("aria-current"); }
  const el = id ? (follow ? ensure(id) : $(`s-${id}`)) : null;
  if (el && !el.classList.contains("speaking")) {
    el.classList.add("speaking");
    el.setAttribute("aria-current", "true");
  }
  if (el && follow && (changed || jumped === true)) el.scrollIntoView({ block: "nearest" });
  highlightWord(el, t);
  movePlayhead();
}

// The last word of the sentence starting at or before t, while t is inside it.
function highlightWord(sentence, t) {
  let now = null;
  if (sentence) {
    for (const word of sentence.querySelectorAll(".word")) {
      if (Number(word.dataset.start) > t) break;
      now = word;
    }
    if (now && t > Number(now.dataset.end)) now = null;
  }
  const old = document.querySelector(".word.now");
  if (old === now) return;
  if (old) old.classList.remove("now");
  if (now) now.classList.add("now");
}

function step(by) {
  const list = segments();
  if (!list.length) return;
  const current = selected || (segmentAt(player.currentTime) || list[0]).id;
  const at = list.findIndex((s) => s.id === current);
  const next = list[Math.min(list.length - 1, Math.max(0, at + by))];
  select(next.id);
  playSegment(next.id);
  ensure(next.id).focus();
}

async function load() {
  edition = await api("api/edition");
  render();
}

// The edition's audio again, at the same listening position (and playing if it was).
function reloadPlayer() {
  const position = player.currentTime;
  const playing = !player.paused;
  player.src = audioUrl();
  player.addEventListener("loadedmetadata", () => {
    player.currentTime = Math.min(position, player.duration || position);
    highlight();
    if (playing) player.play().catch(() => {});
  }, { once: true });
}

// Follows the background work until it is idle; a newer edition is loaded into the page and the player.
async function watch() {
  if (watching) { watchAgain = true; return; }
  watching = true;
  try {
    for (;;) {
      watchAgain = false;
      const status = await api("api/status");
      showProgress(status);
      if (status.state === "working") {
        setState("working");
        say(progressText(status));
        showTakes();
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      if (status.version !== version) {
        version = status.version;
        await load();
        reloadPlayer();
      } else {
        renderFindings(status.findings);
        renderLevels(status.levels);
      }
      if (watchAgain) continue;
      if (status.cancelled && status.state !== "error") {
        setState("idle");
        say(status.message);
        afterDerive = null;
        break;
      }
      if (status.state === "error") {
        setState("error");
        say(`error: ${status.message}`);
        // Whatever failed (an unreadable edition, a backend that was down), building again is the way out.
        buttons.redo.hidden = false;
        name(buttons.redo, "Rebuild the edition");
      } else {
        if (afterDerive) say(`${afterDerive}; ${status.message}`);
        setState("idle");
      }
      afterDerive = null;
      break;
    }
  } catch (e) {
    setState("error");
    say(`error: ${e.message}`);
  } finally {
    watching = false;
    showTakes();
  }
}

// What the background work is doing, with how far it is (segments synthesized of those to synthesize).
function progressText(status) {
  if (status.phase === "cancelling") return "cancelling: stopping after the sentence being synthesized…";
  if (status.phase === "synthesizing" && status.total > 0) {
    return `${status.message} (${status.done} of ${status.total} synthesized)`;
  }
  return status.message;
}

// The progress bar and Cancel, shown while the edition is re-derived.
function showProgress(status) {
  const deriving = status.state === "working" && ["preparing", "synthesizing", "joining", "waiting", "cancelling"].includes(status.phase);
  const bar = $("work-progress");
  bar.hidden = !deriving;
  bar.max = Math.max(1, status.total);
  bar.value = status.phase === "joining" ? bar.max : status.done;
  const cancel = $("cancel-work");
  const hadFocus = document.activeElement === cancel;
  cancel.hidden = !deriving;
  cancel.disabled = status.phase === "cancelling";
  if (hadFocus && cancel.hidden) $("text").focus();
}

async function cancelWork() {
  $("cancel-work").disabled = true;
  try {
    const answer = await api("api/cancel", {});
    say(progressText(answer.status));
  } catch (e) {
    say(`error: ${e.message}`);
  }
}

// Runs one request to the studio at a time, with the page marked working; returns its answer or null. A
// request that has the edition re-derived (`derives` says what was done) leaves the page working and follows.
async function act(doing, request, derives) {
  if (busy) return null;
  busy = true;
  setState("working");
  showTakes();
  say(doing);
  let answer = null;
  try {
    answer = await request();
    return answer;
  } catch (e) {
    say(`error: ${e.message}`);
    if (e.status === 409) await load();
    return null;
  } finally {
    busy = false;
    const message = answer && derives ? derives(answer) : null;
    if (message) {
      afterDerive = message;
      watch();
    } else if (document.body.dataset.state === "working" && !watching) {
      setState("idle");
    }
    showTakes();
  }
}

function playTake(audio) {
  player.pause();
  stopAt = null;
  takePlayer.src = withToken(root + audio);
  takePlayer.play().catch(() => {});
}

// A take of the selected sentence (a number, or "new"), heard on its own.
async function hear(take) {
  if (!selected) return null;
  const id = selected;
  const done = await act(take === "new" ? `making a new take of segment ${id}…` : `fetching take ${take} of segment ${id}…`,
    () => api("api/audition", { id, take }));
  if (!done) return null;
  const t = takesOf(id);
  edition.takes[id] = { take: t.take, latest: done.latest };
  hearing = done.take;
  showTakes();
  playTake(done.audio);
  say(take === "new"
    ? `segment ${id}: take ${done.take} made (${done.synthesized} synthesized); hearing it — Keep (k) puts it in the edition`
    : `segment ${id}: hearing take ${done.take} of ${done.latest} (${done.synthesized} synthesized)`);
  return done;
}

async function keep() {
  if (!selected) return;
  const id = selected;
  const take = hearing || takesOf(id).take;
  const done = await act(`keeping take ${take} of segment ${id}…`, () => api("api/keep", { id, take }),
    (d) => `segment ${id}: take ${d.from_take} → ${d.take} kept`);
  if (!done) return;
  edition.takes[id] = { take: done.take, latest: Math.max(takesOf(id).latest, done.take) };
  hearing = null;
  showTakes();
}

// The takes of the selected sentence side by side: each one's length and waveform, played on its own, kept
// with one click; three new ones made in one.
async function compareTakes() {
  if (!selected) return;
  $("edit-form").hidden = true;
  $("word-form").hidden = true;
  $("takes-panel").hidden = false;
  if (await listTakes(selected)) $("takes-panel").scrollIntoView({ block: "nearest" });
}

async function listTakes(id) {
  const rows = [];
  const done = await act(`reading the takes of segment ${id}…`, async () => {
    for (let n = 1; n <= takesOf(id).latest; n++) rows.push(await api("api/audition", { id, take: n }));
    return rows;
  });
  if (!done) return false;
  $("takes-list").replaceChildren(...rows.map((r) => takeRow(id, r)));
  say(`segment ${id}: ${rows.length} take${rows.length === 1 ? "" : "s"} to compare`);
  return true;
}

function takeRow(id, r) {
  const row = document.createElement("li");
  row.className = "take-row";
  row.dataset.take = r.take;
  const name = document.createElement("span");
  name.className = "take-name";
  const wave = document.createElement("canvas");
  wave.className = "wave";
  wave.width = 256;
  wave.height = 40;
  wave.setAttribute("aria-hidden", "true");
  drawPeaks(wave, r.peaks);
  const length = document.createElement("span");
  length.className = "take-length";
  length.textContent = `${r.seconds.toFixed(2)} s`;
  const play = document.createElement("button");
  play.type = "button";
  play.className = "take-play";
  play.dataset.icon = "▶";
  play.textContent = `Play take ${r.take}`;
  play.addEventListener("click", () => {
    hearing = r.take;
    showTakes();
    playTake(r.audio);
    say(`segment ${id}: hearing take ${r.take} (${r.seconds.toFixed(2)} s)`);
  });
  const keepIt = document.createElement("button");
  keepIt.type = "button";
  keepIt.className = "take-keep";
  keepIt.dataset.icon = "✓";
  keepIt.textContent = `Keep take ${r.take}`;
  keepIt.addEventListener("click", async () => {
    hearing = r.take;
    await keep();
    markKept(id);
  });
  row.append(name, wave, length, play, keepIt);
  markKept(id, row);
  return row;
}

// Which row is the kept take (all rows, or just `only`).
function markKept(id, only) {
  const kept = takesOf(id).take;
  for (const row of only ? [only] : document.querySelectorAll("#takes-list .take-row")) {
    const is = Number(row.dataset.take) === kept;
    row.classList.toggle("kept", is);
    row.querySelector(".take-name").textContent = `Take ${row.dataset.take}${is ? " (kept)" : ""}`;
    row.querySelector(".take-keep").disabled = is;
  }
}

// A waveform's bars (peaks 0 to 1) in `colour` (a CSS variable: the accent unless said).
function drawPeaks(canvas, peaks, colour) {
  const g = canvas.getContext("2d");
  if (!g || !peaks || !peaks.length) return;
  canvas.dataset.drawn = "true";
  canvas.dataset.peaks = peaks.join(",");
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(colour || "--accent").trim() || "#1a56b0";
  const bar = canvas.width / peaks.length;
  for (const [i, p] of peaks.entries()) {
    const h = Math.max(1, p * canvas.height);
    g.fillRect(i * bar, (canvas.height - h) / 2, Math.max(1, bar - 1), h);
  }
}

async function makeThree() {
  if (!selected) return;
  const id = selected;
  let synthesized = 0;
  const done = await act(`making 3 new takes of segment ${id}…`, async () => {
    for (let i = 1; i <= 3; i++) {
      say(`making take ${takesOf(id).latest + 1} of segment ${id} (${i} of 3)…`);
      const made = await api("api/audition", { id, take: "new" });
      edition.takes[id] = { take: takesOf(id).take, latest: made.latest };
      synthesized += made.synthesized;
    }
    return true;
  });
  if (!done || !(await listTakes(id))) return;
  say(`segment ${id}: 3 takes made (${synthesized} synthesized); play each, keep one`);
}

async function fixWithNewTake(id) {
  select(id);
  const made = await hear("new");
  if (made) await keep();
}

async function rederive(doing) {
  await act(doing, () => api("api/derive", {}), () => "done");
}

function openEdit() {
  if (!selected) return;
  $("word-form").hidden = true;
  $("edit-form").hidden = false;
  $("edit-text").value = segment(selected).text;
  $("edit-text").focus();
}

async function saveEdit(event) {
  event.preventDefault();
  const s = segment(selected);
  if (!s) return;
  const text = $("edit-text").value;
  reselectAt = segments().findIndex((x) => x.id === s.id);
  const done = await act(`changing segment ${s.id} in the essay…`,
    () => api("api/text", { id: s.id, was: s.text, text }),
    (d) => d.changed && `line ${d.line} of the essay changed (the previous file is ${d.backup})`);
  if (!done) return;
  $("edit-form").hidden = true;
  if (!done.changed) say("the text is the same; nothing changed");
}

function openWord() {
  if (!selected) return;
  $("edit-form").hidden = true;
  $("word-form").hidden = false;
  const chosen = String(window.getSelection() || "").trim();
  if (chosen && segment(selected).text.includes(chosen)) $("word").value = chosen;
  ($("word").value ? $("say") : $("word")).focus();
}

async function hearWord() {
  if (!selected) return;
  const id = selected;
  const word = $("word").value;
  const sayAs = $("say").value;
  const done = await act(`synthesizing segment ${id} with “${word}” said as “${sayAs}”…`,
    () => api("api/audition", { id, word, say: sayAs }));
  if (!done) return;
  playTake(done.audio);
  say(`segment ${id} with “${word}” said as “${sayAs}” (${done.synthesized} synthesized); Save puts it in narrate.toml`);
}

async function saveWord(event) {
  event.preventDefault();
  const word = $("word").value;
  const sayAs = $("say").value;
  const done = await act(`saving “${word}”…`, () => api("api/lexicon", { word, say: sayAs }));
  if (!done) return;
  $("word-form").hidden = true;
  await load();
  const n = done.marked.length;
  say(`saved ${done.word} = “${done.say}” in ${done.file}; ${n} sentence${n === 1 ? "" : "s"} marked for re-synthesis` +
    (n ? " — press “Redo marked sentences”" : ""));
}

buttons.play.addEventListener("click", () => {
  stopAt = null;
  takePlayer.pause();
  player.paused ? player.play().catch(() => {}) : player.pause();
});
buttons.prevSentence.addEventListener("click", () => step(-1));
buttons.nextSentence.addEventListener("click", () => step(1));
buttons.newTake.addEventListener("click", () => hear("new"));
buttons.prevTake.addEventListener("click", () => hear((hearing || takesOf(selected).take) - 1));
buttons.nextTake.addEventListener("click", () => hear((hearing || takesOf(selected).take) + 1));
buttons.keep.addEventListener("click", keep);
$("cancel-work").addEventListener("click", cancelWork);
buttons.compare.addEventListener("click", compareTakes);
$("make-three").addEventListener("click", makeThree);
$("takes-close").addEventListener("click", () => { $("takes-panel").hidden = true; });
buttons.edit.addEventListener("click", openEdit);
buttons.pronounce.addEventListener("click", openWord);
buttons.redo.addEventListener("click", () => rederive("re-synthesizing the marked sentences…"));
$("edit-form").addEventListener("submit", saveEdit);
$("edit-cancel").addEventListener("click", () => { $("edit-form").hidden = true; });
$("word-form").addEventListener("submit", saveWord);
$("word-hear").addEventListener("click", hearWord);
$("word-cancel").addEventListener("click", () => { $("word-form").hidden = true; });
$("timeline").addEventListener("click", (event) => {
  const box = $("timeline").getBoundingClientRect();
  if (!edition || box.width <= 0) return;
  stopAt = null;
  player.currentTime = ((event.clientX - box.left) / box.width) * edition.manifest.duration_seconds;
  player.play().catch(() => {});
});
player.addEventListener("timeupdate", () => highlight(false));
player.addEventListener("seeked", () => highlight(true));
player.addEventListener("play", () => takePlayer.pause());

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
    if (event.key === "Escape") { $("edit-form").hidden = true; $("word-form").hidden = true; }
    return;
  }
  const onControl = target instanceof HTMLButtonElement || target === player;
  const onSentence = target.classList && target.classList.contains("sentence");
  if (event.key === " " && !onControl) {
    event.preventDefault();
    if (onSentence) {
      select(target.dataset.id);
      playSegment(target.dataset.id);
    } else {
      buttons.play.click();
    }
  } else if (event.key === "Enter" && onSentence) {
    select(target.dataset.id);
    playSegment(target.dataset.id);
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    if (target === player) return;
    event.preventDefault();
    step(-1);
  } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    if (target === player) return;
    event.preventDefault();
    step(1);
  } else if (event.key === "r") {
    if (!buttons.newTake.disabled) hear("new");
  } else if (event.key === "k") {
    if (!buttons.keep.disabled) keep();
  }
});

load()
  .then(() => {
    version = edition.status ? edition.status.version : 0;
    player.src = audioUrl();
    setState("idle");
    say("Click a sentence to hear it; “New take” redoes just that sentence, “Keep” puts a take in the edition.");
    watch();
  })
  .catch((e) => {
    setState("error");
    say(`error: ${e.message}`);
  });
