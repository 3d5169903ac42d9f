"""The preview's HTTP side: who may ask, how long a connection may stay silent, and how each request is answered.

The answers themselves come from `serve.Preview`; this module keeps the server honest towards the network.
"""

from __future__ import annotations

import http.server
import ipaddress
import logging
import re
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .preview import Preview

log = logging.getLogger(__name__)

#: How long a connection may stay silent (no request, or a request not read) before it is closed, in seconds.
IDLE_TIMEOUT = 30.0

#: A Host header: a name or an IPv4 address, or an IPv6 address in brackets, and an optional port.
HOST_HEADER = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def host_allowed(header: str | None, listen_host: str) -> bool:
    """Say whether a request's Host header names this preview, which defeats DNS rebinding.

    A rebinding page reaches the preview under its own domain name, so names are refused but `localhost`
    and the name given with --host. IP addresses cannot be rebound: loopback ones are always accepted,
    and any one when the preview listens beyond loopback, so that a phone can open it by address.
    The port is not checked: an SSH tunnel or a port forward changes it for a good reason.
    """
    match = HOST_HEADER.fullmatch(header or "")
    if not match:
        return False
    name = match["name"].strip("[]").rstrip(".").lower()
    listen = listen_host.strip("[]").lower()
    if name in ("localhost", listen):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or not _is_loopback(listen)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name given with --host: the user chose to be reached beyond loopback


def refusal(host: str | None, url: str) -> bytes:
    """Return the text that answers a request for a host name the preview does not serve."""
    return (
        f"This is cardsite's preview, which answers only for its own address ({url}/), not for host {host!r}.\n"
        "To reach it under another name, start it with --host NAME.\n"
    ).encode()


class PreviewServer(http.server.ThreadingHTTPServer):
    """The preview's HTTP server: one thread per connection, each answered by the Preview it belongs to."""

    daemon_threads = True
    preview: Preview

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser leaving a page mid-poll, or a client too slow to read its answer, is normal; anything else is
        # a bug worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("Client %s went away", client_address)
        else:
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class PreviewHandler(http.server.BaseHTTPRequestHandler):
    """Answer one connection's requests, or refuse them when they name another host."""

    server: PreviewServer

    def setup(self) -> None:
        # A socket timeout closes connections that send nothing, which would otherwise hold a thread each forever.
        self.timeout = self.server.preview.idle_timeout
        super().setup()

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        preview = self.server.preview
        path = urlsplit(self.path).path
        hosts = self.headers.get_all("Host") or [None]
        host = hosts[0] if len(hosts) == 1 else ", ".join(hosts)  # two Host headers are two answers to one question
        if not host_allowed(host, preview.host):
            log.warning("Refused a request for host %r; see --host", host)
            status, headers, body = (
                421,
                {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
                refusal(host, preview.url),
            )
        elif path.startswith("/livereload/"):
            epoch = preview.wait_for_change(path.removeprefix("/livereload/"))
            status, headers, body = 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}, epoch.encode()
        else:
            status, headers, body = preview.respond(path)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)
