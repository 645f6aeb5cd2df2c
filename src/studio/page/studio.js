// narrate studio: renders the edition's chapters and sentences from its manifest, follows the audio, plays one
// sentence on click, and asks the studio for new or other takes of the selected sentence.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const player = document.getElementById("player");
const statusLine = document.getElementById("status");
const takeInfo = document.getElementById("take-info");
const buttons = {
  play: document.getElementById("play"),
  prevSentence: document.getElementById("prev-sentence"),
  nextSentence: document.getElementById("next-sentence"),
  newTake: document.getElementById("new-take"),
  prevTake: document.getElementById("prev-take"),
  nextTake: document.getElementById("next-take"),
};
let edition = null;
let selected = null;
let stopAt = null;
let busy = false;
let version = 0;

function say(text) { statusLine.textContent = text; }

async function api(path, body) {
  const init = { headers: { "X-Narrate-Token": token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function segments() { return edition ? edition.manifest.segments : []; }
function segment(id) { return segments().find((s) => s.id === id); }

function audioUrl() {
  const name = encodeURIComponent(edition.manifest.audio);
  return `/edition/${name}?token=${encodeURIComponent(token)}&v=${version}`;
}

function render() {
  const m = edition.manifest;
  document.getElementById("title").textContent = m.title;
  document.title = `${m.title} — narrate studio`;
  const nav = document.getElementById("chapters");
  const text = document.getElementById("text");
  nav.replaceChildren();
  text.replaceChildren();
  const paragraphs = new Map();
  const section = (title, level, index) => {
    const part = document.createElement("section");
    part.className = "chapter";
    const heading = document.createElement(level <= 1 ? "h2" : "h3");
    heading.className = "chapter-title";
    heading.textContent = title;
    const p = document.createElement("p");
    part.append(heading, p);
    text.append(part);
    paragraphs.set(index, p);
  };
  for (const c of m.chapters) {
    const item = document.createElement("li");
    const jump = document.createElement("button");
    jump.type = "button";
    jump.className = "chapter-link";
    jump.textContent = c.title;
    jump.addEventListener("click", () => {
      stopAt = null;
      player.currentTime = c.start_seconds;
      player.play().catch(() => {});
    });
    item.append(jump);
    nav.append(item);
    section(c.title, c.level, c.index);
  }
  for (const s of m.segments) {
    if (!paragraphs.has(s.chapter)) section("", 2, s.chapter);
    const span = document.createElement("span");
    span.className = "sentence";
    span.id = `s-${s.id}`;
    span.dataset.id = s.id;
    span.tabIndex = 0;
    span.setAttribute("role", "button");
    span.setAttribute("aria-label", `Play: ${s.text}`);
    span.textContent = s.text;
    span.addEventListener("click", () => { select(s.id); playSegment(s.id); });
    paragraphs.get(s.chapter).append(span, " ");
  }
  if (selected && segment(selected)) select(selected);
  highlight();
}

function select(id) {
  selected = id;
  for (const el of document.querySelectorAll(".sentence.selected")) el.classList.remove("selected");
  const el = document.getElementById(`s-${id}`);
  if (el) el.classList.add("selected");
  const t = edition.takes[id] || { take: 1, latest: 1 };
  takeInfo.textContent = `segment ${id}: take ${t.take} of ${t.latest}`;
  buttons.newTake.disabled = busy;
  buttons.prevTake.disabled = busy || t.take <= 1;
  buttons.nextTake.disabled = busy || t.take >= t.latest;
}

function playSegment(id) {
  const s = segment(id);
  if (!s) return;
  player.currentTime = s.start_seconds;
  stopAt = s.end_seconds;
  player.play().catch(() => {});
}

function segmentAt(t) { return segments().find((s) => t >= s.start_seconds && t < s.end_seconds); }

// The sentence being spoken, from the manifest's spans.
function highlight() {
  if (!edition) return;
  const t = player.currentTime;
  if (stopAt !== null && t >= stopAt) { player.pause(); stopAt = null; }
  const s = segmentAt(t);
  const id = s ? s.id : null;
  const old = document.querySelector(".sentence.speaking");
  if (old && old.dataset.id === id) return;
  if (old) { old.classList.remove("speaking"); old.removeAttribute("aria-current"); }
  if (id) {
    const el = document.getElementById(`s-${id}`);
    el.classList.add("speaking");
    el.setAttribute("aria-current", "true");
    if (!player.paused) el.scrollIntoView({ block: "nearest" });
  }
}

function step(by) {
  const list = segments();
  if (!list.length) return;
  const current = selected || (segmentAt(player.currentTime) || list[0]).id;
  const at = list.findIndex((s) => s.id === current);
  const next = list[Math.min(list.length - 1, Math.max(0, at + by))];
  select(next.id);
  playSegment(next.id);
  document.getElementById(`s-${next.id}`).focus();
}

async function load() {
  edition = await api(`/api/edition`);
  render();
}

// A new take (take === undefined) or another one, then the edition again, at the same listening position.
async function changeTake(take) {
  if (busy || !selected) return;
  busy = true;
  document.body.dataset.state = "working";
  select(selected);
  const position = player.currentTime;
  const id = selected;
  say(`making take ${take === undefined ? "(new)" : take} of segment ${id}…`);
  try {
    const body = take === undefined ? { id } : { id, take };
    const done = await api(`/api/take`, body);
    await load();
    version += 1;
    player.src = audioUrl();
    player.addEventListener("loadedmetadata", () => { player.currentTime = position; highlight(); }, { once: true });
    say(`segment ${done.id}: take ${done.from_take} → ${done.take} (${done.synthesized} synthesized); the edition is re-joined`);
  } catch (e) {
    say(`error: ${e.message}`);
  } finally {
    busy = false;
    document.body.dataset.state = "idle";
    if (selected) select(selected);
  }
}

buttons.play.addEventListener("click", () => { stopAt = null; player.paused ? player.play().catch(() => {}) : player.pause(); });
buttons.prevSentence.addEventListener("click", () => step(-1));
buttons.nextSentence.addEventListener("click", () => step(1));
buttons.newTake.addEventListener("click", () => changeTake(undefined));
buttons.prevTake.addEventListener("click", () => { const t = edition.takes[selected]; if (t) changeTake(t.take - 1); });
buttons.nextTake.addEventListener("click", () => { const t = edition.takes[selected]; if (t) changeTake(t.take + 1); });
player.addEventListener("timeupdate", highlight);
player.addEventListener("seeked", highlight);

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const onControl = event.target instanceof HTMLButtonElement || event.target === player;
  if (event.key === " " && !onControl) {
    event.preventDefault();
    if (event.target.classList && event.target.classList.contains("sentence")) {
      select(event.target.dataset.id);
      playSegment(event.target.dataset.id);
    } else {
      buttons.play.click();
    }
  } else if (event.key === "Enter" && event.target.classList && event.target.classList.contains("sentence")) {
    select(event.target.dataset.id);
    playSegment(event.target.dataset.id);
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    if (event.target === player) return;
    event.preventDefault();
    step(-1);
  } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    if (event.target === player) return;
    event.preventDefault();
    step(1);
  } else if (event.key === "r") {
    changeTake(undefined);
  }
});

load()
  .then(() => {
    player.src = audioUrl();
    document.body.dataset.state = "idle";
    say("Click a sentence to hear it; “New take” redoes just that sentence.");
  })
  .catch((e) => {
    document.body.dataset.state = "error";
    say(`error: ${e.message}`);
  });
