"""Drives `narrate studio` in headless Chromium (Selenium + chromedriver) for tests/it/studio.rs.

Usage: studio_browser.py URL SEGMENT_ID SECONDS SCREENSHOT
Loads the page, reads the chapters and sentences shown, clicks SEGMENT_ID and presses "New take", "Previous take" and "Next take", presses the
right arrow key, sets the player to SECONDS and reads which sentence is highlighted; prints a JSON report.
"""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

url, segment, seconds, screenshot = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
             "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
             "--window-size=1200,900"):
    options.add_argument(flag)
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
# Generous: the machine may be busy; nothing here depends on how fast it is.
wait = WebDriverWait(driver, 120, poll_frequency=0.1)
report = {}
try:
    driver.get(url)
    wait.until(lambda d: d.execute_script("return document.body.dataset.state") in ("idle", "error"))
    report["state"] = driver.execute_script("return document.body.dataset.state")
    report["status"] = driver.find_element(By.ID, "status").text
    report["chapters"] = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "nav .chapter-link")]
    report["headings"] = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "main .chapter-title")
                          if h.is_displayed()]
    report["sentences"] = [
        {"id": s.get_attribute("data-id"), "text": s.text, "visible": s.is_displayed()}
        for s in driver.find_elements(By.CSS_SELECTOR, ".sentence")
    ]
    report["buttons"] = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "button")]

    # Click the sentence, then "New take"; wait for the studio to say it is done.
    driver.find_element(By.ID, "s-" + segment).click()
    report["selected"] = driver.execute_script("return document.querySelector('.sentence.selected').dataset.id")
    driver.find_element(By.ID, "new-take").click()
    wait.until(lambda d: "→" in d.find_element(By.ID, "status").text
               or d.find_element(By.ID, "status").text.startswith("error"))
    wait.until(lambda d: d.execute_script("return document.body.dataset.state") == "idle")
    report["after_take"] = driver.find_element(By.ID, "status").text
    report["take_info"] = driver.find_element(By.ID, "take-info").text

    # Back to take 1 and forward to take 2 again: both from the cache.
    for button, key in (("prev-take", "back"), ("next-take", "forward")):
        previous = driver.find_element(By.ID, "status").text
        driver.find_element(By.ID, button).click()
        wait.until(lambda d: d.find_element(By.ID, "status").text != previous
                   and "→" in d.find_element(By.ID, "status").text
                   and d.execute_script("return document.body.dataset.state") == "idle")
        report[key] = driver.find_element(By.ID, "status").text

    # The right arrow selects the next sentence.
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    report["after_arrow"] = driver.execute_script("return document.querySelector('.sentence.selected').dataset.id")

    # Set the player's time; the sentence highlighted must be the one the manifest spans there.
    driver.execute_script("document.getElementById('player').pause()")
    wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState") >= 1)
    driver.execute_script("const p = document.getElementById('player'); p.pause(); p.currentTime = arguments[0];",
                          seconds)
    wait.until(lambda d: d.execute_script(
        "const p = document.getElementById('player');"
        "return !p.seeking && Math.abs(p.currentTime - arguments[0]) < 0.05 && "
        "document.querySelector('.sentence.speaking') !== null;", seconds))
    report["current_time"] = driver.execute_script("return document.getElementById('player').currentTime")
    report["duration"] = driver.execute_script("return document.getElementById('player').duration")
    report["highlighted"] = driver.execute_script(
        "return document.querySelector('.sentence.speaking').dataset.id")
    driver.save_screenshot(screenshot)
except Exception as e:  # the report says what went wrong; the Rust test fails on it
    report["error"] = f"{type(e).__name__}: {e}"
    try:
        report["status_at_error"] = driver.find_element(By.ID, "status").text
        driver.save_screenshot(screenshot)
    except Exception:
        pass
finally:
    driver.quit()
print(json.dumps(report))
