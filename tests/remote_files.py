"""A partner authority's server for tests (issue 19): files served over HTTP on 127.0.0.1.

Production refuses partner addresses on loopback or private networks (CIRQLIZ_PARTNER_PRIVATE_ADDRESSES);
`private_network_allowed` lets the tests' server through. The fixtures `remote` and
`private_network_allowed` (tests/conftest.py) are built on this module.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cirqliz.issuance import partners

REAL_FETCH_URL = partners.fetch_url


class RemoteFiles:
    """Files served over HTTP on 127.0.0.1 (path -> bytes; 404 otherwise); '/slow.cose' answers
    after 3 s; every path asked is kept in `requests`."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                remote.requests.append(self.path)
                if self.path == "/slow.cose":
                    time.sleep(3)
                body = remote.files.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
