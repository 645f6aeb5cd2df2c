// What every page of narrate studio shares (the studio's and the catalogue's, each inlined after this): the
// session token from the page's address, where the page is, and asking the studio for JSON with the token.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
// Where the page is: `/` of its own server, `/e/N/` under a catalogue, or `/studio/` under narrate serve.
const root = location.pathname.endsWith("/") ? location.pathname : `${location.pathname}/`;
const $ = (id) => document.getElementById(id);

// GETs (or POSTs `body` as JSON to) `path` under the page's place; the answer's JSON, or an Error with its
// message and status.
async function api(path, body) {
  const init = { headers: { "X-Narrate-Token": token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(root + path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(answer.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return answer;
}

// `m:ss`, or `h:mm:ss` from an hour on.
function clock(seconds) {
  const t = Math.max(0, Math.round(seconds));
  const [h, m, sec] = [Math.floor(t / 3600), Math.floor((t % 3600) / 60), t % 60];
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}
