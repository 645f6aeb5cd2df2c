"""What the browser tests' scripts share: Debian's headless Chromium through chromedriver (Selenium), the requests
a page made (Chromium's network log), and axe-core's accessibility scan (NARRATE_AXE: axe.min.js) of a page."""

import json
import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio", "--disable-dev-shm-usage",
         "--autoplay-policy=no-user-gesture-required")


def start(window="1200,900", extra=(), log_requests=False):
    """A headless Chromium of `window` pixels, with `extra` flags; `log_requests` keeps its network log."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS + (f"--window-size={window}",) + tuple(extra):
        options.add_argument(flag)
    if log_requests:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    if log_requests:
        driver.execute_cdp_cmd("Network.enable", {})
    driver.set_script_timeout(120)
    return driver


def requests(driver):
    """Every URL the pages asked for since the last call (a data: URL cut short)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            urls.append(url[:30] if url.startswith("data:") else url)
    return urls


def axe(driver):
    """axe-core's violations in the page as it is now: id, impact, help and the first nodes of each."""
    with open(os.environ["NARRATE_AXE"], encoding="utf-8") as f:
        driver.execute_script(f.read())
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ': ' + n.failureSummary)}))),"
        " (e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
