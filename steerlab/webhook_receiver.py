"""A webhook receiver that checks steerserve's signatures, for the tests and ``steer bench soak``; also a reference
for operators writing their own: verify ``X-Steerserve-Signature`` over the raw body, de-duplicate retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from server.alerts import verify_signature


class Receiver:
    """A signed-webhook receiver in a thread. ``stop()`` closes its socket, so the server sees connection refused."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.alerts: list[dict] = []  # every verified post, in arrival order (a retried alert appears again)
        self.keys: set[tuple] = set()  # distinct alerts
        self.bad = 0  # posts with a wrong or missing signature (answered 401)
        self.httpd: ThreadingHTTPServer | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_signature(outer.secret, self.headers.get("X-Steerserve-Timestamp", ""), body,
                                      self.headers.get("X-Steerserve-Signature", ""))
                if ok:
                    a = json.loads(body)
                    outer.alerts.append(a)
                    # a retry re-sends the same body: same key. ("-" ids: admin and denied events.)
                    outer.keys.add((a["request_id"], a["feature"], a["action"], a["token_index"], a["phase"], a["time"]))
                else:
                    outer.bad += 1
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.handler = Handler

    def start(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def posts(self) -> int:
        return len(self.alerts)
