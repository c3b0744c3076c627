"""A stand-in for the Hugging Face Hub on the loopback address: it serves the `resolve` URLs
`huggingface_hub.hf_hub_download` asks for (HEAD for the metadata, GET for the file), with the
headers the client reads (X-Repo-Commit, ETag, Content-Length), and counts every request."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubStandIn:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files  # "org/model/config.json" -> content
        self.requests: list[str] = []
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, body: bool) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                # /<org>/<model>/resolve/<revision>/<filename>
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    self.send_error(404)
                    return
                name = "/".join([*parts[:2], *parts[4:]])
                content = hub.files.get(name)
                if content is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if body:
                    self.wfile.write(content)

            def do_HEAD(self) -> None:  # http.server's name for it
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@contextmanager
def serving(files: dict[str, bytes]) -> Iterator[HubStandIn]:
    hub = HubStandIn(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), hub.handler())
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
