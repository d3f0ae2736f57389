"""Screenshot the edit view of `stance review` on a run, in Debian's chromium driven by Selenium.

Usage: python scripts/screenshot_review.py <run dir of stance predict> review.png [--cell 1] [--stance oppose]
       [--width 1400 --height 900]
It works on a copy of the run (the run itself gets no corrections): opens cell --cell of the review
queue, presses the shortcut of --stance, adds the next sentence of the document as evidence, types a
note, and takes the screenshot before saving. docs/review-edit-view.png:
`python scripts/screenshot_review.py <run of data/sou-2024-72> docs/review-edit-view.png --cell 2 --stance support`.
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

KEYS = {"support": "1", "oppose": "2", "mixed": "3", "neutral": "4", "none": "5"}


def main(argv=None) -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from pipeline.report.browser import find_chromium

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("png")
    ap.add_argument("--cell", type=int, default=1, help="position in the review queue")
    ap.add_argument("--stance", default="oppose", choices=list(KEYS))
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="review-shot-"))
    run = work / "run"
    shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("corrections.jsonl", "corrected"))
    stance = Path(sys.executable).with_name("stance")
    proc = subprocess.Popen([str(stance), "review", f"output={run}"], stdout=subprocess.PIPE, text=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = find_chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={work / 'profile'}",
              f"--window-size={args.width},{args.height}"):
        opts.add_argument(a)
    driver = None
    try:
        url = next(m.group(0) for line in iter(proc.stdout.readline, "")
                   if (m := re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)))
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
        driver.get(url)
        wait = WebDriverWait(driver, 20)
        wait.until(ec.visibility_of_element_located((By.ID, "namein"))).send_keys("Anna Analytiker")
        driver.find_element(By.CSS_SELECTOR, "#nameform button").click()
        wait.until(ec.invisibility_of_element_located((By.ID, "namedlg")))
        body = driver.find_element(By.TAG_NAME, "body")
        for _ in range(args.cell - 1):
            body.send_keys("n")
        body.send_keys(KEYS[args.stance])
        picked = driver.find_elements(By.CSS_SELECTOR, "#doctext .s.pick")
        spans = driver.find_elements(By.CSS_SELECTOR, "#doctext .s:not(.h)")
        if picked:
            after = [s for s in spans if s.location["y"] > picked[-1].location["y"] and "pick" not in s.get_attribute("class")]
            if after:
                after[0].click()
        driver.find_element(By.ID, "note").send_keys("tillstyrker: see the second sentence")
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(args.png)
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    print(args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
