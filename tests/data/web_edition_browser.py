"""Opens `narrate --export html` pages in headless Chromium (Selenium + chromedriver) for tests/it/web_edition.rs.

Usage: web_edition_browser.py SPEC_JSON
SPEC_JSON: {"pages": [{"dir": DIR, "name": "x.html", "probes": [[ID, SECONDS], ...],
                       "word_probes": [SECONDS, ...]}], "screenshot": PATH, "axe": true|false}
Each page is opened three times, from its file:// URL and from two static web servers on 127.0.0.1 serving DIR
(Python's http.server with byte ranges, as production servers answer, and as it is, without), with no browser
flag that loosens what a page may load. For each it reports the chapters and sentences
shown, the audio's duration and source, the tracks and their cues, which sentence is highlighted with the
player set to each probe's SECONDS, where a chapter button and a sentence click move the player, every request
the page made (from Chromium's network log) and any Content-Security-Policy violation, and (first page, from
its file) axe-core's accessibility violations in the light and the dark scheme; prints a JSON report.
"""

import functools
import http.server
import json
import os
import sys
import threading
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import chromium

spec = json.loads(sys.argv[1])


class Plain(http.server.SimpleHTTPRequestHandler):
    """Python's static server as it is: whole files only, no byte ranges."""

    def log_message(self, *args):
        pass


class Ranges(Plain):
    """A static server answering `Range: bytes=A-B` with 206 Partial Content, as production servers do."""

    def send_head(self):
        spec = self.headers.get("Range", "")
        path = self.translate_path(self.path)
        if not spec.startswith("bytes=") or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = spec[len("bytes="):].partition("-")
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:
            start, end = max(0, size - int(last)), size - 1
        if start > end:
            self.send_error(416)
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = getattr(self, "remaining", None)
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0:
            chunk = source.read(min(left, 64 * 1024))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)


def serve(directory, handler):
    handler = functools.partial(handler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


driver = chromium.start(log_requests=True)
driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
  window.__violations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""})
# Generous: the machine may be busy; nothing here depends on how fast it is.
wait = WebDriverWait(driver, 120, poll_frequency=0.05)
js = driver.execute_script


def seek_and_read(seconds, read):
    """Sets the player's time and returns what the JS expression `read` gives once it is there: read in a
    `seeked` listener added after the page's own, so the page has followed the seek (no waiting on the clock)."""
    return driver.execute_async_script("""
        const [t, done] = arguments;
        const p = document.getElementById('player');
        p.pause();
        const read = () => {
          if (p.seeking || Math.abs(p.currentTime - t) > 0.01) { p.currentTime = t; return; }
          p.removeEventListener('seeked', read);
          done((() => { %s })());
        };
        p.addEventListener('seeked', read);
        p.currentTime = t;
    """ % read, seconds)


def set_time(seconds):
    """The sentences highlighted with the player at `seconds`."""
    return seek_and_read(seconds, """
        const s = document.querySelectorAll('.sentence.speaking');
        return {count: s.length, id: s.length ? s[0].id.slice(2) : null,
                current: s.length ? s[0].getAttribute('aria-current') : null, time: p.currentTime};""")


def word_at(seconds):
    """The words highlighted with the player at `seconds`: their text, their sentence's id and their times."""
    return seek_and_read(seconds, """
        const w = Array.from(document.querySelectorAll('.word.now'));
        return {time: p.currentTime, words: w.map((el) => ({text: el.textContent,
                sentence: el.closest('.sentence').id.slice(2), start: parseFloat(el.dataset.start),
                end: parseFloat(el.dataset.end), background: getComputedStyle(el).backgroundColor,
                sentence_background: getComputedStyle(el.closest('.sentence')).backgroundColor}))};""")


def visit(url, probes, word_probes, screenshot, plain):
    chromium.requests(driver)  # forget earlier pages' requests
    report = {"url": url}
    driver.get(url)
    wait.until(lambda d: js("const p = document.getElementById('player'); return p.readyState >= 1 || p.error !== null"
                            " || p.networkState === 3"))
    # Seekable once loaded; from a server without ranges, once the page has fetched the file whole and
    # played it from memory.
    wait.until(lambda d: js("const p = document.getElementById('player'); const s = p.seekable;"
                            "return s.length > 0 && s.end(s.length - 1) > 0 && !p.seeking && p.readyState >= 1"
                            " && (!arguments[0] || p.dataset.whole !== undefined)", plain))
    report["media_error"] = js("const p = document.getElementById('player'); return p.error && p.error.code")
    report["duration"] = js("return document.getElementById('player').duration")
    report["whole"] = js("return document.getElementById('player').dataset.whole !== undefined")
    report["injected"] = js("return window.injected !== undefined")
    report["source"] = js("const p = document.getElementById('player'); return p.dataset.whole || p.currentSrc")
    wait.until(lambda d: js("return Array.from(document.querySelectorAll('#player track'))"
                            ".every((t) => t.readyState >= 2)"))
    report["tracks"] = js("""return Array.from(document.querySelectorAll('#player track')).map((t) => ({
        kind: t.kind, ready: t.readyState, src: t.getAttribute('src').slice(0, 22),
        cues: t.track.cues ? Array.from(t.track.cues).map((c) => [c.id, c.startTime, c.endTime,
            c.getCueAsHTML().textContent]) : null}))""")
    report["title"] = driver.find_element(By.TAG_NAME, "h1").text
    report["lang"] = js("return document.documentElement.lang")
    report["chapters"] = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "nav .chapter-link .name")]
    report["sentences"] = js("""return Array.from(document.querySelectorAll('.sentence')).map((s) => ({
        id: s.id.slice(2), text: s.textContent, start: parseFloat(s.dataset.start), end: parseFloat(s.dataset.end)}))""")
    report["highlighted"] = []
    for segment, seconds in probes:
        report["highlighted"].append(set_time(seconds))
    # A chapter button and a sentence move the player to where they start.
    buttons = driver.find_elements(By.CSS_SELECTOR, "nav .chapter-link")
    last = buttons[-1]
    last.click()
    wait.until(lambda d: js("return !document.getElementById('player').seeking"))
    report["chapter_click"] = [last.get_attribute("data-start"), js("return document.getElementById('player').currentTime")]
    js("document.getElementById('player').pause()")
    sentence = driver.find_elements(By.CSS_SELECTOR, "main .sentence")[1]
    sentence.click()
    wait.until(lambda d: js("return !document.getElementById('player').seeking"))
    js("document.getElementById('player').pause()")
    report["sentence_click"] = [sentence.get_attribute("id")[2:], sentence.get_attribute("data-start"),
                                js("return document.getElementById('player').currentTime")]
    report["words"] = js("""return Array.from(document.querySelectorAll('.word')).map((w) => ({
        text: w.textContent, sentence: w.closest('.sentence').id.slice(2), start: parseFloat(w.dataset.start),
        end: parseFloat(w.dataset.end)}))""")
    report["word_highlighted"] = [word_at(seconds) for seconds in word_probes]
    # A click on a word (the third of the second sentence that has three) plays from that word.
    sentences = [s for s in driver.find_elements(By.CSS_SELECTOR, "main .sentence")
                 if len(s.find_elements(By.CSS_SELECTOR, ".word")) >= 3]
    if len(sentences) >= 2:
        word = sentences[1].find_elements(By.CSS_SELECTOR, ".word")[2]
        # Where the click's seek lands (read when it lands: the player plays on from there).
        js("""const p = document.getElementById('player'); window.__landed = null;
              p.addEventListener('seeking', () => { window.__landed = p.currentTime; }, {once: true});""")
        word.click()
        wait.until(lambda d: js("return window.__landed !== null"))
        js("document.getElementById('player').pause()")
        report["word_click"] = [word.text, word.get_attribute("data-start"), js("return window.__landed")]
    # 200 % zoom (a 600 × 450 CSS-pixel window): nothing wider than the window, the player still on screen.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 600, "height": 450, "deviceScaleFactor": 2, "mobile": False})
    report["zoomed"] = js("""const p = document.getElementById('player').getBoundingClientRect();
        return {overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
                player_width: p.width}""")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    if screenshot:
        set_time(probes[len(probes) // 2][1])
        driver.save_screenshot(screenshot)
    if screenshot and spec.get("axe"):
        # axe-core's scan, in the light and the dark scheme (a screenshot of the dark one beside the light).
        report["axe"] = {}
        for scheme in ("dark", "light"):
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                   {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
            report["axe"][scheme] = chromium.axe(driver)
            if scheme == "dark":
                driver.save_screenshot(screenshot.replace(".png", "-dark.png"))
    report["violations"] = js("return window.__violations")
    report["requests"] = chromium.requests(driver)
    return report


report = {"pages": []}
try:
    for n, page in enumerate(spec["pages"]):
        servers = {"http": serve(page["dir"], Ranges), "http-plain": serve(page["dir"], Plain)}
        try:
            file_url = Path(page["dir"], page["name"]).resolve().as_uri()
            shot = spec["screenshot"] if n == 0 else None
            visits = {"file": visit(file_url, page["probes"], page["word_probes"], shot, False)}
            for kind, server in servers.items():
                url = f"http://127.0.0.1:{server.server_address[1]}/{page['name']}"
                visits[kind] = visit(url, page["probes"], page["word_probes"], None, kind == "http-plain")
            report["pages"].append(visits)
        finally:
            for server in servers.values():
                server.shutdown()
except Exception as e:  # the report says what went wrong; the Rust test fails on it
    report["error"] = f"{type(e).__name__}: {e}"
    try:
        report["violations"] = js("return window.__violations")
        driver.save_screenshot(spec["screenshot"])
    except Exception:
        pass
finally:
    driver.quit()
print(json.dumps(report))
