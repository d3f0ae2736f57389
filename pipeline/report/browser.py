"""Headless Chromium: the report as a browser renders it (screenshots, the DOM after scripts ran)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _headless(html_path, args: list[str], width: int, height: int, timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with a throwaway profile and no network chatter."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("chromium not found (looked for chromium, chromium-browser, google-chrome)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(html_path, png_path, width: int = 1280, height: int = 2400, timeout: float = 90) -> Path:
    """PNG of the top `height` pixels of the page as headless Chromium renders it.

    To see further down, make the window taller (up to 16384): a headless screenshot of a scrolled
    page (a #fragment, scrollTo) comes out blank.
    """
    if not Path(html_path).is_file():
        raise FileNotFoundError(f"{html_path}: no such file")  # chromium would screenshot its error page
    png = Path(png_path).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    proc = _headless(html_path, [f"--screenshot={png}"], width, height, timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return png


def dump_dom(html_path, width: int = 1280, height: int = 2400, timeout: float = 90) -> str:
    """The DOM after Chromium has parsed and run the page."""
    proc = _headless(html_path, ["--dump-dom"], width, height, timeout)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout
