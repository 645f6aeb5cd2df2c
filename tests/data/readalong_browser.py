"""Opens a read-along EPUB in headless Chromium (Selenium + chromedriver) through our own test page, for
tests/it/readalong.rs. The page (readalong_reader.html, beside this script) is not a reading system: it reads the
package, shows the first content document with a Media Overlay, plays its audio in an <audio> element and gives
the package's media:active-class to the element whose <par> clip holds currentTime.

Usage: readalong_browser.py SPEC_JSON
SPEC_JSON: {"book": EPUB, "dir": SCRATCH_DIR, "probes": [SECONDS, ...], "screenshot": PATH,
            "document": PATH IN THE BOOK (optional: another content document than the first with an overlay)}
The book is unpacked into SCRATCH_DIR/book/ and the page copied to SCRATCH_DIR/reader.html, served by a static
server on 127.0.0.1 (Chromium resolves no other host). For each probe the player is set to SECONDS and the report
gives the elements carrying the active class then, their computed background and their parent's; it also gives
what the page read (active class, document, overlay pars), every request Chromium made and the page's error, as
JSON on stdout.
"""

import functools
import http.server
import json
import shutil
import sys
import threading
import urllib.parse
import zipfile
from pathlib import Path

from selenium.webdriver.support.ui import WebDriverWait

import chromium

spec = json.loads(sys.argv[1])
root = Path(spec["dir"]).resolve()
book = root / "book"
with zipfile.ZipFile(spec["book"]) as z:
    for name in z.namelist():
        if name.startswith("/") or ".." in name.split("/"):
            raise SystemExit(f"{name}: a path outside the book")
    z.extractall(book)
shutil.copyfile(Path(__file__).with_name("readalong_reader.html"), root / "reader.html")


class Files(http.server.SimpleHTTPRequestHandler):
    """Python's static server, quiet, with the book's media types."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".xhtml": "application/xhtml+xml", ".smil": "application/smil+xml",
                      ".opf": "application/oebps-package+xml", ".m4a": "audio/mp4", ".css": "text/css"}

    def guess_type(self, path):
        # A book's content documents are XHTML whatever their names end with (calibre's end with .html).
        if Path(path).suffix == ".html" and book in Path(path).resolve().parents:
            return "application/xhtml+xml"
        return super().guess_type(path)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Files, directory=str(root)))
threading.Thread(target=server.serve_forever, daemon=True).start()

driver = chromium.start(window="1000,800", log_requests=True, extra=(
    # Nothing from the network: every host name fails to resolve (127.0.0.1 is an address, not a name).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",))
# Generous: the machine may be busy; nothing here depends on how fast it is.
wait = WebDriverWait(driver, 120, poll_frequency=0.05)
js = driver.execute_script


def at(seconds):
    """Sets the player's time and returns the elements carrying the active class once the page has followed the
    seek (read in a `seeked` listener added after the page's own)."""
    return driver.execute_async_script("""
        const [t, done] = arguments;
        const p = document.getElementById('player');
        p.pause();
        const read = () => {
          if (p.seeking || Math.abs(p.currentTime - t) > 0.0005) { p.currentTime = t; return; }
          p.removeEventListener('seeked', read);
          const doc = document.getElementById('page').contentDocument;
          const lit = Array.from(doc.getElementsByClassName(window.reader.activeClass));
          const view = doc.defaultView;
          done({time: p.currentTime, active: lit.map((el) => ({id: el.id, text: el.textContent,
                background: view.getComputedStyle(el).backgroundColor,
                parent_background: view.getComputedStyle(el.parentElement).backgroundColor}))});
        };
        p.addEventListener('seeked', read);
        p.currentTime = t;
    """, seconds)


report = {}
try:
    url = f"http://127.0.0.1:{server.server_address[1]}/reader.html"
    if spec.get("document"):
        url += "?" + urllib.parse.urlencode({"document": spec["document"]})
    report["url"] = url
    driver.get(url)
    wait.until(lambda d: js("return window.reader.ready || window.reader.error !== null"))
    report["error"] = js("return window.reader.error")
    if report["error"] is None:
        report["reader"] = js("""const r = window.reader; return {active_class: r.activeClass,
            document: r.document, audio: r.audio, duration: document.getElementById('player').duration,
            pars: r.pars.map((p) => ({id: p.id, begin: p.begin, end: p.end}))}""")
        report["probes"] = [at(seconds) for seconds in spec["probes"]]
        if spec.get("screenshot"):
            driver.save_screenshot(spec["screenshot"])
    report["requests"] = chromium.requests(driver)
except Exception as e:  # the report says what went wrong; the Rust test fails on it
    report["error"] = f"{type(e).__name__}: {e}"
finally:
    driver.quit()
    server.shutdown()
print(json.dumps(report))
