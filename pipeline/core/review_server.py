"""The local web app of `stance review`, on the standard library's http.server.

Why no framework: the app is one page and three JSON calls, and every safety rule below is a few
lines that can be read in one place; a framework would add a dependency and hide them.

Safety rules, checked on every request:
- it listens on 127.0.0.1 only, on a free port, and the Host header must name that address (a
  page elsewhere cannot reach it through DNS rebinding);
- every request carries the per-session token (`?token=` for the page, the `X-Review-Token` header
  for the calls); without it: 403;
- there is no route that maps a URL to a file: the page is rendered from the run, documents are
  addressed by their position in the run and cells by (doc_id, proposal_id) checked against it,
  and the only files written are `<run>/corrections.jsonl` and `<run>/corrected/` (pipeline/core/
  corrections.py refuses a name that resolves outside the run folder);
- request bodies are JSON of at most MAX_BODY bytes (411 without a length, 413 above it);
- the page runs only its own scripts (a nonce in the Content-Security-Policy) and document text is
  escaped by the report (pipeline/report/review.py).
"""
from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError
from ..report.review import render_review, review_data
from .corrections import CORRECTED_FILES, CorrectionLog, apply, cell_value, export, load_run
from .review_queue import review_queue

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
MAX_BODY = 64 * 1024
MAX_EVIDENCE = 200


class ReviewApp:
    """What the server serves: the run, its corrections log, the review queue, and the session token."""

    def __init__(self, run_dir):
        self.run = load_run(run_dir)
        self.log = CorrectionLog(self.run.dir)
        self.queue = [q.to_json() for q in review_queue(self.run.results, self.run.catalog, self.run.low_confidence,
                                                        self.run.config.get("linker"))]
        self.token = secrets.token_urlsafe(32)

    def results(self):
        results, problems = apply(self.run, self.log)
        for p in problems:
            log.warning("%s", p)
        return results

    def page(self, nonce: str) -> str:
        return render_review(self.results(), self.run.errors, self.run.catalog, self.run.info,
                             self.run.low_confidence, self.queue, nonce)

    def cells(self) -> dict:
        return {"cells": review_data(self.results(), self.run.catalog, [])["cells"]}

    def save(self, body: dict) -> dict:
        doc_id, pid = body.get("doc_id"), body.get("proposal_id")
        result = self.run.result(doc_id) if isinstance(doc_id, str) else None
        if result is None or pid not in self.run.catalog.ids:
            raise InputError("cell", "no such cell in this run")
        evidence = body.get("evidence") or []
        if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
            raise InputError("evidence", f"a list of at most {MAX_EVIDENCE} sentence numbers")
        value = cell_value(result, body.get("stance"), body.get("basis"), evidence, body.get("note") or "",
                           body.get("confidence") or "high")
        self.log.save(self.run, doc_id, pid, value, body.get("reviewer"))
        cells = self.cells()["cells"]
        key = next(k for k, c in cells.items() if c["doc_id"] == doc_id and c["proposal_id"] == pid)
        return {"cell": cells[key]}

    def export(self) -> dict:
        folder, problems = export(self.run, self.log)
        return {"dir": str(folder), "files": list(CORRECTED_FILES), "problems": problems}


class Handler(BaseHTTPRequestHandler):
    server_version = "remiss-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> ReviewApp:
        return self.server.app

    def log_message(self, fmt, *args):  # quiet: the token is in the request line
        log.debug("review: %s", self.command)

    # -- checks ----------------------------------------------------------------------------------
    def _allowed(self) -> bool:
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
            self._send(HTTPStatus.FORBIDDEN, {"error": "wrong Host"})
            return False
        given = self.headers.get("X-Review-Token") or (parse_qs(urlsplit(self.path).query).get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.app.token.encode()):
            self._send(HTTPStatus.FORBIDDEN, {"error": "missing or wrong token: open the URL `stance review` printed"})
            return False
        return True

    def _body(self) -> dict | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return None
        if int(length) > MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"request body over {MAX_BODY} bytes"})
            return None
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return None
        try:
            body = json.loads(self.rfile.read(int(length)) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            self._send(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
            return None
        return body

    # -- responses -------------------------------------------------------------------------------
    def _send(self, status: HTTPStatus, payload, content_type: str = "application/json", csp: str | None = None):
        data = payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False).encode()
        if status >= 400:  # the body may be unread: this connection ends here
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", csp or "default-src 'none'; frame-ancestors 'none'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        try:
            if path == "/":
                nonce = secrets.token_urlsafe(16)
                csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
                       f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
                self._send(HTTPStatus.OK, self.app.page(nonce), "text/html", csp)
            elif path == "/api/cells":
                self._send(HTTPStatus.OK, self.app.cells())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
        except InputError as e:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(e)})

    def do_POST(self):
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path not in ("/api/save", "/api/export"):
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        body = self._body()
        if body is None:
            return
        try:
            if path == "/api/save":
                self._send(HTTPStatus.OK, self.app.save(body))
            else:
                if body:
                    raise InputError("export", "takes no arguments: it writes <run>/corrected/")
                self._send(HTTPStatus.OK, self.app.export())
        except InputError as e:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(e)})

    def _refuse(self):
        self.close_connection = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _refuse


class ReviewServer(ThreadingHTTPServer):
    """The app on 127.0.0.1 and a free port (or `port`); `url` carries the session token."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, app: ReviewApp, port: int = 0):
        self.app = app
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/?token={self.app.token}"

    def start(self) -> "ReviewServer":
        """Serve in a background thread (tests, benchmarks); `stop` ends it."""
        self._thread = threading.Thread(target=self.serve_forever, name="stance-review", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if getattr(self, "_thread", None) is not None:
            self._thread.join(timeout=10)
