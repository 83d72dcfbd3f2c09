"""A tiny webhook receiver for the alert demo: verifies the HMAC signature and prints each alert.

    STEERSERVE_WEBHOOK_SECRET=change-me python examples/webhook_receiver.py 9009
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from server.alerts import verify_signature

SECRET = os.environ.get("STEERSERVE_WEBHOOK_SECRET", "")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = verify_signature(SECRET, self.headers.get("X-Steerserve-Timestamp", ""), body,
                              self.headers.get("X-Steerserve-Signature", ""))
        print(("WEBHOOK (signature ok) " if ok else "WEBHOOK (BAD SIGNATURE) ") + json.dumps(json.loads(body)),
              flush=True)
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9009), Handler).serve_forever()
