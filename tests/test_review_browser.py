"""`stance review` in a real browser: Debian's chromium, driven through chromium-driver and Selenium.

Open the page, give the reviewer's name, change a cell, add an evidence sentence, save, reload and see
it kept, export, and check the files. Skipped (saying why) only where chromium, chromedriver or
selenium is not installed; .ci/run installs all three. The screenshot of the edit view is written to
the test's temp folder, and to $REMISS_SCREENSHOT_DIR when that is set (docs/review-edit-view.png
is made that way).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import HOSTILE_DOC, HOSTILE_NAME, NORRBY, SODERBY, STANCE_SCRIPT, read_jsonl, run_main, write_catalog
from pipeline.report.browser import find_chromium

CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(find_chromium() is None or CHROMEDRIVER is None,
                                reason="chromium or chromedriver not installed (apt-get install chromium chromium-driver)")


@pytest.fixture
def review(tmp_path):
    """A finished predict run and a running `stance review` on it: (run dir, url)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "norrby.txt").write_text(NORRBY, encoding="utf-8")
    (docs / "soderby.txt").write_text(SODERBY, encoding="utf-8")
    (docs / f"{HOSTILE_NAME}.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    run = tmp_path / "run"
    assert run_main(["predict", f"input={docs}", f"output={run}", f"data.catalog={write_catalog(tmp_path / 'p.yaml')}",
                     "embedder=null", "linker=lexical"]) == 0
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    proc = subprocess.Popen([*cmd, "review", f"output={run}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(10):
            m = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", proc.stdout.readline())
            if m:
                url = m.group(0)
                break
        assert url, "stance review printed no URL"
        yield run, url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = find_chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_review_in_the_browser_change_a_cell_add_evidence_save_reload_export(review, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    run, url = review
    wait = WebDriverWait(browser, 20)
    browser.get(url)
    # Asked once for the reviewer's name.
    name = wait.until(ec.visibility_of_element_located((By.ID, "namein")))
    name.send_keys("Anna Analytiker")
    browser.find_element(By.CSS_SELECTOR, "#nameform button").click()
    wait.until(ec.invisibility_of_element_located((By.ID, "namedlg")))
    assert browser.find_element(By.ID, "counts").text == "0 reviewed · 18 left"

    # The cell: norrby (document 2 in doc_id order) x munhalsoregister (proposal 3), the lexicon's neutral.
    cell = '[data-cell="2:3"]'
    browser.find_element(By.CSS_SELECTOR, f"main {cell} .edit-btn").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "cell-title"), "norrby — 3."))
    assert "delivered: neutral" in browser.find_element(By.ID, "cell-was").text
    browser.find_element(By.TAG_NAME, "body").send_keys("2")  # shortcut: oppose
    assert browser.find_element(By.CSS_SELECTOR, "#editor .st.on").get_attribute("data-stance") == "oppose"
    burden = browser.find_element(By.XPATH, "//div[@id='doctext']//span[contains(., 'administrativ börda')]")
    assert "pick" in burden.get_attribute("class")  # the delivered evidence, marked in the document
    routines = browser.find_element(By.XPATH, "//div[@id='doctext']//span[contains(., 'nya rutiner')]")
    assert "pick" not in routines.get_attribute("class")
    routines.click()  # add it as evidence
    wait.until(lambda d: routines.text in d.find_element(By.ID, "evidence").text)
    chosen = [burden.text, routines.text]
    browser.find_element(By.ID, "note").send_keys("en börda = avstyrker")
    shot = tmp_path / "review-edit-view.png"
    browser.save_screenshot(str(shot))
    if os.environ.get("REMISS_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REMISS_SCREENSHOT_DIR"]) / shot.name)
    browser.find_element(By.ID, "save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "saved"))
    assert browser.find_element(By.ID, "counts").text == "1 reviewed · 17 left"

    rows = read_jsonl(run / "corrections.jsonl")  # written at once, before any export
    assert len(rows) == 1 and rows[0]["new"]["stance"] == "oppose" and rows[0]["old"]["stance"] == "neutral"
    assert rows[0]["reviewer"] == "Anna Analytiker" and rows[0]["new"]["note"] == "en börda = avstyrker"
    assert [e["text"] for e in rows[0]["new"]["evidence"]] == chosen

    browser.refresh()  # the same cell opens again, as saved
    wait.until(ec.text_to_be_present_in_element((By.ID, "cell-title"), "norrby — 3."))
    assert "reviewed by Anna Analytiker" in browser.find_element(By.ID, "cell-was").text
    assert browser.find_element(By.CSS_SELECTOR, "#editor .st.on").get_attribute("data-stance") == "oppose"
    assert all(t in browser.find_element(By.ID, "evidence").text for t in chosen)
    assert browser.find_element(By.ID, "note").get_attribute("value") == "en börda = avstyrker"
    assert "reviewed" in browser.find_element(By.CSS_SELECTOR, f"main .cell{cell}").get_attribute("class")
    assert browser.find_element(By.ID, "counts").text == "1 reviewed · 17 left"

    browser.find_element(By.TAG_NAME, "body").send_keys("n")  # the next unreviewed cell of the queue …
    wait.until(lambda d: "norrby — 3." not in d.find_element(By.ID, "cell-title").text)
    browser.find_element(By.TAG_NAME, "body").send_keys("a")  # … accepted as it is
    wait.until(ec.text_to_be_present_in_element((By.ID, "counts"), "2 reviewed"))

    browser.find_element(By.ID, "export").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "export-result"), "written to"))
    corrected = {(r["doc_id"], r["proposal_id"]): r for r in read_jsonl(run / "corrected" / "predictions.jsonl")}
    fixed = corrected[("norrby", "munhalsoregister")]
    assert fixed["stance"] == "oppose" and [e["text"] for e in fixed["evidence"]] == chosen
    assert fixed["review"]["reviewer"] == "Anna Analytiker"
    assert sum("review" in r for r in corrected.values()) == 2
    original = {(r["doc_id"], r["proposal_id"]): r for r in read_jsonl(run / "predictions.jsonl")}
    assert original[("norrby", "munhalsoregister")]["stance"] == "neutral"  # untouched
    assert "reviewed by Anna Analytiker" in (run / "corrected" / "report.html").read_text(encoding="utf-8")
    assert (run / "corrected" / "remissammanstallning.xlsx").stat().st_size > 0
    assert "oppose" in (run / "corrected" / "matrix.csv").read_text(encoding="utf-8")

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], json.dumps(severe)  # no script error, no Content-Security-Policy violation
    assert shot.stat().st_size > 10_000
