"""Screenshot a report.html with headless Chromium, to see what analysts will see.

Usage: python scripts/screenshot_report.py outputs/run/report.html report.png [--width 1280 --height 2400]
The PNG shows the top of the page; a taller window (up to --height 16384) shows more of it.
"""
from __future__ import annotations

import argparse
import sys

from pipeline.report.browser import screenshot


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", help="the report.html to render")
    ap.add_argument("png", help="where to write the PNG")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    try:
        path = screenshot(args.html, args.png, args.width, args.height)
    except (RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
