"""Drives `narrate studio` in headless Chromium (Selenium + chromedriver) for tests/it/studio.rs.

Usage: studio_browser.py URL STEPS_JSON
STEPS_JSON is a list of steps, done in order; the script prints a JSON list with one report per step (and stops
at the first step that fails, with "error" in its report). Steps:
  {"do": "read"}                                  what the page shows: chapters, sentences, buttons, findings…
  {"do": "click", "id": ID}                       clicks a sentence
  {"do": "press", "button": ID, "until": TEXT}    clicks a button, waits until the page is idle again and its
                                                  status line contains TEXT
  {"do": "key", "key": "k"|"r"|"ArrowRight", "until": TEXT?}
  {"do": "edit", "text": TEXT, "until": TEXT}     "Edit text", types the new text, "Save and re-synthesize"
  {"do": "word", "word": W, "say": S}             "Fix a pronunciation", types both, "Hear the sentence with it",
                                                  then "Save to narrate.toml"
  {"do": "fix", "segment": ID, "until": TEXT}     the fix button of the finding on that segment
  {"do": "seek", "seconds": S}                    sets the player's time; reports the highlighted sentence
  {"do": "seek_word", "seconds": S}               sets the player's time; reports the sentence and the word marked
                                                  as spoken, the word's times and the two backgrounds
  {"do": "click_word", "segment": ID, "n": N}      clicks the Nth (from 0) word of a sentence; reports the word's
                                                  start and where the player went (at its "seeking" event)
  {"do": "scheme", "scheme": "dark"|"light"}     the colour scheme the page is shown in (prefers-color-scheme)
  {"do": "width", "px": 360}                       the window's width
  {"do": "axe"}                                    runs axe-core (NARRATE_AXE: axe.min.js) in the page; reports
                                                  its violations (id, impact, help, the first nodes)
  {"do": "timeline"}                               the timeline strip: each chapter block's width, the strip's,
                                                  the playhead's offset, the finding marks
  {"do": "timeline_click", "fraction": F}          clicks the timeline strip at F of its width; reports where the
                                                  player went
  {"do": "takes"}                                  the rows of the takes panel: take, kept, length, waveform peaks
  {"do": "take_row", "take": N, "button": "play"|"keep", "until": TEXT}
                                                  clicks a row's button, waits as "press" does; reports the rows
  {"do": "book", "last": S}                        book scale, by the Performance API: when the text was first
                                                  rendered, the sentence nodes in the DOM while scrolling through
                                                  the whole text, how long a jump to the last chapter takes until
                                                  its sentence is on screen, highlighted, and a seek to S
  {"do": "tab_to", "target": CSS, "back": false}   presses Tab (Shift+Tab when back) until the focus is on an
                                                  element matching CSS (at most 300 times); reports where the
                                                  focus went on the way
  {"do": "enter", "until": TEXT}                   presses Enter on the focused element, waits as "press" does
  {"do": "zoom", "factor": 2}                     zooms the page; reports whether anything needs sideways scrolling
  {"do": "screenshot", "path": PATH}
  {"do": "catalogue"}                              the catalogue's rows (once no essay is working): essay, title,
                                                  state, findings, length, the buttons
  {"do": "catalogue_build", "n": N, "release": PATH?}
                                                  clicks the essay's Build, waits until its row shows progress,
                                                  then creates PATH (a held sentence goes on: NARRATE_TONE_HOLD)
                                                  and waits until no essay is working; reports the progress seen
                                                  and the rows
  {"do": "open", "n": N}                           follows the essay's link to its studio; reports `read`
  {"do": "back"}                                   "All essays": back to the catalogue; reports its rows
  {"do": "press_only", "button": ID}               clicks a button without waiting for the work it starts
  {"do": "progress", "until": TEXT}                waits until the status line says TEXT while the page works;
                                                  reports it, the progress bar and whether Cancel is shown
  {"do": "enter_only"}                             presses Enter on the focused element, waiting for nothing
  {"do": "settled", "until": TEXT}                 waits as "press" does
  {"do": "touch", "path": PATH}                    creates the file PATH (releases a held sentence)
  {"do": "waves"}                                  once every sentence on screen has its waveform drawn: each
                                                  one's id, cache key, peaks and share of painted pixels
"""

import json
import sys

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import chromium

url, steps = sys.argv[1], json.loads(sys.argv[2])

driver = chromium.start()
# Generous: the machine may be busy; nothing here depends on how fast it is.
wait = WebDriverWait(driver, 240, poll_frequency=0.1)


def state():
    return driver.execute_script("return document.body.dataset.state")


def status():
    return driver.find_element(By.ID, "status").text


def settled(until):
    """Waits until the page is idle (or in error) and its status line says `until`."""
    wait.until(lambda d: state() == "error" or (state() == "idle" and until in status()))
    if state() == "error":
        raise RuntimeError(f"the page reports: {status()}")
    info = driver.find_elements(By.ID, "take-info")  # none on the catalogue
    return {"status": status(), "take_info": info[0].text if info else None}


def read():
    return {
        "state": state(),
        "status": status(),
        "title": driver.find_element(By.ID, "title").text,
        "chapters": [b.text for b in driver.find_elements(By.CSS_SELECTOR, "nav .chapter-link")],
        "levels": [span.get_attribute("textContent") for span in driver.find_elements(By.CSS_SELECTOR, "nav .level")],
        "headings": [h.text for h in driver.find_elements(By.CSS_SELECTOR, "main .chapter-title") if h.is_displayed()],
        "sentences": [
            {"id": s.get_attribute("data-id"), "text": s.text, "visible": s.is_displayed(),
             "classes": s.get_attribute("class").split()}
            for s in driver.find_elements(By.CSS_SELECTOR, ".sentence")
        ],
        "buttons": [b.text for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.is_displayed()],
        "check": driver.find_element(By.ID, "check-summary").text,
        "findings": [
            {"kind": f.get_attribute("data-kind"), "segment": f.get_attribute("data-segment"), "text": f.text}
            for f in driver.find_elements(By.CSS_SELECTOR, ".finding-item")
        ],
        "selected": driver.execute_script(
            "const s = document.querySelector('.sentence.selected'); return s && s.dataset.id"),
        "take_info": driver.find_element(By.ID, "take-info").text,
    }


def seek(seconds):
    """Pauses the player at `seconds` and waits until the page has followed it."""
    wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState") >= 1)
    driver.execute_script("const p = document.getElementById('player'); p.pause(); p.currentTime = arguments[0];",
                          seconds)
    wait.until(lambda d: d.execute_script(
        "const p = document.getElementById('player');"
        "return !p.seeking && Math.abs(p.currentTime - arguments[0]) < 0.05 && "
        "document.querySelector('.sentence.speaking') !== null;", seconds))


def take_rows():
    return driver.execute_script(
        "return [...document.querySelectorAll('#takes-list .take-row')].map((r) => ({"
        " take: Number(r.dataset.take), kept: r.classList.contains('kept'), name: r.querySelector('.take-name').textContent,"
        " length: r.querySelector('.take-length').textContent,"
        " painted: (() => { const c = r.querySelector('canvas'); const d = c.getContext('2d')"
        "   .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;"
        "   return n / (c.width * c.height); })(),"
        " keep_enabled: !r.querySelector('.take-keep').disabled}));")


def book(last):
    report = {"rendered_ms": driver.execute_script(
        "const m = performance.getEntriesByName('narrate:rendered'); return m.length ? m[0].startTime : null"),
        "sentences": driver.execute_script("return document.querySelectorAll('.sentence').length")}
    # Through the whole text, a screen at a time (the observer fills and empties pages as they pass).
    most, steps = 0, 0
    while True:
        at = driver.execute_script(
            "window.scrollBy(0, window.innerHeight); return [window.scrollY + window.innerHeight,"
            " document.documentElement.scrollHeight];")
        driver.execute_script("return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        most = max(most, driver.execute_script("return document.querySelectorAll('.sentence').length"))
        steps += 1
        if at[0] >= at[1] - 2 or steps > 5000:
            break
    report["most_sentences_scrolling"] = most
    report["screens"] = steps
    driver.execute_script("window.scrollTo(0, 0)")
    # A jump to the last chapter: from the click until its first sentence is highlighted on screen.
    report["jump"] = until_shown(
        "const links = document.querySelectorAll('nav .chapter-link'); links[links.length - 1].click();")
    # And the player set to the book's last sentence (`last`: seconds), from the top of the page.
    driver.execute_script("window.scrollTo(0, 0)")
    report["seek_last"] = until_shown("p.currentTime = arguments[0];", last)
    return report


def until_shown(action, *args):
    """Runs the JS `action` (the player is `p`, `args` are its arguments) and reports, once the player has
    sought and the page has drawn a frame, how long that took, the sentence highlighted, whether it is on screen
    and how many sentence nodes the page holds; the player is left paused."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const p = document.getElementById('player');"
        "const t0 = performance.now();"
        "p.addEventListener('seeked', () => requestAnimationFrame(() => {"
        "  p.pause(); const s = document.querySelector('.sentence.speaking');"
        "  const r = s && s.getBoundingClientRect();"
        "  done({ms: performance.now() - t0, id: s && s.dataset.id, time: p.currentTime,"
        "        on_screen: !!r && r.bottom > 0 && r.top < window.innerHeight,"
        "        sentences: document.querySelectorAll('.sentence').length}); }), {once: true});"
        "p.pause();" + action, *args)


def catalogue_rows():
    return driver.execute_script(
        "return [...document.querySelectorAll('#essays tr')].map((r) => ({n: Number(r.dataset.n),"
        " state: r.dataset.state, essay: r.querySelector('.essay-file').textContent,"
        " title: (r.querySelector('.essay-link') || {}).textContent || null,"
        " state_text: r.querySelector('.state').textContent, findings: r.querySelector('.findings').textContent,"
        " length: r.querySelector('.length').textContent,"
        " buttons: [...r.querySelectorAll('button')].map((b) => b.textContent)}));")


def catalogue_build(n, release):
    wait.until(lambda d: state() == "idle")
    driver.find_element(By.ID, f"build-{n}").click()
    # Its row shows the work and its progress bar (a held sentence keeps it there until `release` exists).
    wait.until(lambda d: d.execute_script(
        "const r = document.querySelector(`#essays tr[data-n='${arguments[0]}']`);"
        "return r && r.dataset.state === 'working' && r.querySelector('progress') !== null"
        " && r.querySelector('.progress-text').textContent.startsWith('synthesizing')", n))
    seen = driver.execute_script(
        "const r = document.querySelector(`#essays tr[data-n='${arguments[0]}']`);"
        "const p = r.querySelector('progress');"
        "return {text: r.querySelector('.progress-text').textContent, value: p.value, max: p.max,"
        " cancel: r.querySelector('button') && r.querySelector('button').textContent}", n)
    if release:
        open(release, "w").close()
    wait.until(lambda d: state() == "idle")
    return {"progress": seen, "rows": catalogue_rows(), "status": status()}


def waves():
    script = (
        "const seen = [...document.querySelectorAll('.sentence')].filter((s) => {"
        " const r = s.getBoundingClientRect(); return r.bottom > 0 && r.top < window.innerHeight; });"
        "return seen.map((s) => { const c = s.nextElementSibling;"
        " if (!c || c.tagName !== 'CANVAS') return {id: s.dataset.id, drawn: false};"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 3; i < d.length; i += 4) n += d[i] > 0;"
        " return {id: s.dataset.id, key: c.dataset.key, drawn: c.dataset.drawn === 'true',"
        "  peaks: (c.dataset.peaks || '').split(',').filter((p) => p).map(Number), painted: n / (c.width * c.height)}; });")
    wait.until(lambda d: all(w["drawn"] for w in d.execute_script(script)))
    return {"sentences": driver.execute_script(script)}


def landing(act):
    """Does `act` (a click) and returns where the player went: its position at the `seeking` event that
    follows (the new position, before playback moves it)."""
    driver.execute_script(
        "window.__landed = null; const p = document.getElementById('player');"
        "p.addEventListener('seeking', () => { if (window.__landed === null) window.__landed = p.currentTime; },"
        " {once: true});")
    act()
    wait.until(lambda d: d.execute_script("return window.__landed !== null"))
    return driver.execute_script("return window.__landed")


def do(step):
    kind = step["do"]
    if kind == "read":
        return read()
    if kind == "click":
        driver.find_element(By.ID, "s-" + step["id"]).click()
        return {"selected": driver.execute_script("return document.querySelector('.sentence.selected').dataset.id")}
    if kind == "press":
        wait.until(lambda d: d.find_element(By.ID, step["button"]).is_enabled())
        driver.find_element(By.ID, step["button"]).click()
        return settled(step.get("until", ""))
    if kind == "key":
        keys = {"ArrowRight": Keys.ARROW_RIGHT, "ArrowLeft": Keys.ARROW_LEFT}.get(step["key"], step["key"])
        driver.find_element(By.TAG_NAME, "body").send_keys(keys)
        report = settled(step.get("until", ""))
        report["selected"] = driver.execute_script(
            "const s = document.querySelector('.sentence.selected'); return s && s.dataset.id")
        return report
    if kind == "edit":
        driver.find_element(By.ID, "edit").click()
        box = driver.find_element(By.ID, "edit-text")
        shown = box.get_attribute("value")
        box.clear()
        box.send_keys(step["text"])
        driver.find_element(By.ID, "edit-save").click()
        report = settled(step["until"])
        report["shown"] = shown
        report["selected"] = driver.execute_script(
            "const s = document.querySelector('.sentence.selected'); return s && s.dataset.id")
        return report
    if kind == "word":
        driver.find_element(By.ID, "pronounce").click()
        for field in ("word", "say"):
            box = driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(step[field])
        driver.find_element(By.ID, "word-hear").click()
        heard = settled("said as")
        driver.find_element(By.ID, "word-save").click()
        saved = settled("saved")
        saved["heard"] = heard["status"]
        saved["marked"] = [s.get_attribute("data-id") for s in driver.find_elements(By.CSS_SELECTOR, ".sentence.stale")]
        saved["redo"] = driver.find_element(By.ID, "redo").text
        return saved
    if kind == "fix":
        button = driver.find_element(By.CSS_SELECTOR, f".finding-item[data-segment='{step['segment']}'] button.fix")
        label = button.text
        button.click()
        report = settled(step["until"])
        report["button"] = label
        report["check"] = driver.find_element(By.ID, "check-summary").text
        return report
    if kind == "seek":
        seek(step["seconds"])
        return {
            "current_time": driver.execute_script("return document.getElementById('player').currentTime"),
            "duration": driver.execute_script("return document.getElementById('player').duration"),
            "highlighted": driver.execute_script("return document.querySelector('.sentence.speaking').dataset.id"),
        }
    if kind == "seek_word":
        seek(step["seconds"])
        return driver.execute_script(
            "const p = document.getElementById('player'); const t = p.currentTime;"
            "const words = [...document.querySelectorAll('.word.now')];"
            "const s = document.querySelector('.sentence.speaking');"
            "return {current_time: t, sentence: s && s.dataset.id,"
            " words: words.map((w) => ({text: w.textContent, start: Number(w.dataset.start),"
            "  end: Number(w.dataset.end), inside: s !== null && s.contains(w),"
            "  background: getComputedStyle(w).backgroundColor})),"
            " sentence_background: s && getComputedStyle(s).backgroundColor};")
    if kind == "click_word":
        word = driver.find_elements(By.CSS_SELECTOR, f"#s-{step['segment']} .word")[step["n"]]
        landed = landing(word.click)
        return {
            "text": word.text,
            "start": float(word.get_attribute("data-start")),
            "landed": landed,
            "selected": driver.execute_script("return document.querySelector('.sentence.selected').dataset.id"),
        }
    if kind == "scheme":
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": step["scheme"]}]})
        return {"background": driver.execute_script("return getComputedStyle(document.body).backgroundColor")}
    if kind == "width":
        driver.set_window_size(step["px"], 900)
        return {"width": driver.execute_script("return document.documentElement.clientWidth"),
                "sideways": driver.execute_script(
                    "return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")}
    if kind == "axe":
        return {"violations": chromium.axe(driver)}
    if kind == "timeline":
        return driver.execute_script(
            "const box = (el) => el.getBoundingClientRect();"
            "const strip = document.getElementById('timeline');"
            "return {width: box(strip).width, left: box(strip).left,"
            " chapters: [...document.querySelectorAll('.timeline-chapter')].map((c) =>"
            "  ({index: Number(c.dataset.index), width: box(c).width, current: c.dataset.current === 'true'})),"
            " playhead: box(document.getElementById('playhead')).left + 1 - box(strip).left,"
            " marks: [...document.querySelectorAll('#timeline-marks span')].map((m) =>"
            "  ({segment: m.dataset.segment, at: box(m).left + 1 - box(strip).left})),"
            " current_time: document.getElementById('player').currentTime};")
    if kind == "timeline_click":
        strip = driver.find_element(By.ID, "timeline")
        width = strip.rect["width"]
        offset = int((step["fraction"] - 0.5) * width)
        landed = landing(lambda: ActionChains(driver).move_to_element_with_offset(strip, offset, 0).click().perform())
        driver.execute_script("document.getElementById('player').pause()")
        return {"landed": landed, "width": width,
                "duration": driver.execute_script("return document.getElementById('player').duration")}
    if kind == "takes":
        return {"rows": take_rows()}
    if kind == "take_row":
        row = driver.find_element(By.CSS_SELECTOR, f"#takes-list .take-row[data-take='{step['take']}']")
        button = row.find_element(By.CSS_SELECTOR, f".take-{step['button']}")
        wait.until(lambda d: button.is_enabled())
        button.click()
        report = settled(step["until"])
        report["rows"] = take_rows()
        return report
    if kind == "book":
        return book(step["last"])
    if kind == "tab_to":
        path = []
        for _ in range(300):
            chain = ActionChains(driver)
            if step.get("back"):
                chain.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
            else:
                chain.send_keys(Keys.TAB)
            chain.perform()
            here = driver.execute_script(
                "const e = document.activeElement; return [e.id || (e.dataset && e.dataset.id) || e.className,"
                " e.matches(arguments[0])]", step["target"])
            path.append(here[0])
            if here[1]:
                return {"reached": True, "path": path}
        return {"reached": False, "path": path}
    if kind == "enter":
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        report = settled(step.get("until", ""))
        report["selected"] = driver.execute_script(
            "const s = document.querySelector('.sentence.selected'); return s && s.dataset.id")
        return report
    if kind == "zoom":
        driver.execute_script("document.body.style.zoom = arguments[0]", str(step["factor"]))
        return {"sideways": driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")}
    if kind == "screenshot":
        driver.save_screenshot(step["path"])
        return {"path": step["path"]}
    if kind == "catalogue":
        wait.until(lambda d: state() == "idle")
        return {"rows": catalogue_rows(), "summary": driver.find_element(By.ID, "summary").text}
    if kind == "catalogue_build":
        return catalogue_build(step["n"], step.get("release"))
    if kind == "open":
        driver.find_element(By.ID, f"open-{step['n']}").click()
        wait.until(lambda d: state() in ("idle", "error") and d.find_elements(By.ID, "player"))
        return read()
    if kind == "back":
        driver.find_element(By.ID, "to-catalogue").click()
        wait.until(lambda d: d.find_elements(By.ID, "essays") and state() == "idle")
        return {"rows": catalogue_rows()}
    if kind == "press_only":
        wait.until(lambda d: d.find_element(By.ID, step["button"]).is_displayed()
                   and d.find_element(By.ID, step["button"]).is_enabled())
        driver.find_element(By.ID, step["button"]).click()
        return {"status": status()}
    if kind == "progress":
        wait.until(lambda d: state() == "working" and step["until"] in status())
        bar = driver.find_element(By.ID, "work-progress")
        return {"status": status(), "progress_shown": bar.is_displayed(),
                "value": float(bar.get_attribute("value")), "max": float(bar.get_attribute("max")),
                "cancel_shown": driver.find_element(By.ID, "cancel-work").is_displayed()}
    if kind == "enter_only":
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        return {"status": status()}
    if kind == "settled":
        return settled(step["until"])
    if kind == "touch":
        open(step["path"], "w").close()
        return {"path": step["path"]}
    if kind == "waves":
        return waves()
    raise ValueError(f"unknown step {kind}")


reports = []
try:
    driver.get(url)
    wait.until(lambda d: state() in ("idle", "error"))
    for step in steps:
        try:
            reports.append(do(step))
        except Exception as e:  # the report says what went wrong; the Rust test fails on it
            reports.append({"error": f"{type(e).__name__}: {e}", "step": step, "status": status()})
            break
finally:
    driver.quit()
print(json.dumps(reports))
