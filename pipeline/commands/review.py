"""`stance review output=<run dir> [port=<n>] [--export]`: correct a finished predict run in the browser.

Starts the local web app (pipeline/core/review_server.py) on 127.0.0.1 and a free port and prints
its URL with the session's token; every save goes at once to `<run>/corrections.jsonl`, and the
editor's Export button (or `--export`, without a server) writes the corrected outputs to
`<run>/corrected/`. Ctrl-C (or SIGTERM) stops the server.
"""
from __future__ import annotations

import logging
import signal
import sys

from ..core.corrections import CORRECTED_FILES, CorrectionLog, export, load_run
from ..core.review_server import ReviewApp, ReviewServer
from ..errors import UserError

USAGE = "usage: stance review output=<run dir of stance predict> [port=<n>] [--export]"


def _stop(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    keys = dict(a.split("=", 1) for a in argv if "=" in a)
    flags = [a for a in argv if "=" not in a]
    unknown = [k for k in keys if k not in ("output", "port")] + [f for f in flags if f != "--export"]
    if "output" not in keys or unknown or ("port" in keys and not keys["port"].isdigit()):
        print(USAGE + (f"\nerror: unknown argument {unknown[0]}" if unknown else ""), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if "--export" in flags:
            run = load_run(keys["output"])
            folder, problems = export(run, CorrectionLog(run.dir))
            for p in problems:
                print(f"warning: {p}", file=sys.stderr)
            print(f"corrected {', '.join(CORRECTED_FILES)} -> {folder}")
            return 0
        app = ReviewApp(keys["output"])
        server = ReviewServer(app, int(keys.get("port", 0)))
    except (UserError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run = app.run
    done = len(app.log.latest())
    print(f"Reviewing {run.catalog.sou or run.dir}: {len(run.results)} documents, {len(app.queue)} cells "
          f"({done} reviewed so far).\nOpen {server.url}\nSaves go to {app.log.path}; "
          f"Export writes {run.dir / 'corrected'}/. Ctrl-C stops.", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("review server stopped", flush=True)
    return 0
