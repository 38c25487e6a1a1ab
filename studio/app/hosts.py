"""The studio's Host allow-list, against DNS rebinding, and the `python -m` entry that starts Streamlit with it.

A web page on evil.example can re-point its own name at the studio's address (DNS rebinding): the browser then
sends the studio requests with `Host: evil.example:PORT`, and a WebSocket whose Origin matches that Host, which
Streamlit's same-origin check accepts; without a login, that socket drives every page. So every request, HTTP and
WebSocket, must name an allowed host in its Host header, and a WebSocket its Origin too when it sends one; any port.

Streamlit (1.67) serves over Starlette and uvicorn. Its `server.allowedHosts` option checks the Host of the
WebSocket (and of its agent API) only, not of pages, media files or uploads. `sitter studio` sets that option to
the studio's allowed hosts (studio/app/server.py), and this module enforces the same list on everything: it wraps
the ASGI app that Streamlit's server builds (`starlette_server.create_starlette_app`) in `HostCheck` before the
server starts. A refused request gets a bare 403; so does a refused WebSocket handshake (uvicorn answers 403 to a
close before accept). Should a Streamlit upgrade stop building its app there, the studio refuses to start.

    python -m studio.app.hosts run studio/app/main.py --server.allowedHosts=localhost ...   # server.command's argv
"""

import ipaddress
import re
import sys
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

LOCALHOST = ("localhost", "127.0.0.1", "::1")
EVERY_INTERFACE = ("0.0.0.0", "::", "")  # bind addresses, never the name a browser asks for
REFUSED = b"Refused: this studio does not answer to that host name (sitter studio --allow-host).\n"
_DNS_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class NoHostCheck(RuntimeError):
    """The studio cannot check Host headers (no allowed hosts, or a Streamlit that builds its app elsewhere)."""


def host_name(value: str) -> str:
    """`value` as the allow-list keeps it: lower case, no trailing dot, an IPv6 address without brackets."""
    name = value.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        if ":" in name:
            ipaddress.IPv6Address(name)
        elif not _DNS_NAME.fullmatch(name):
            raise ValueError
    except ValueError:
        raise ValueError(f"{value!r} is not a host name: give a name or an address without a scheme or port, "
                         "e.g. studio.example.org") from None
    return name


def allowed(host: str, hosts: Collection[str]) -> bool:
    """Whether a Host header (`name`, `name:port`, `[v6]:port`) names one of `hosts` (as `host_name` keeps them)."""
    try:
        parsed = urlsplit(f"//{host}")
        name, _ = parsed.hostname, parsed.port  # .port raises ValueError for a port that is not a number
    except ValueError:
        return False
    if not name or parsed.username is not None or parsed.password is not None or parsed.path or parsed.query \
            or parsed.fragment:
        return False
    return name.rstrip(".") in hosts


def origin_allowed(origin: str, hosts: Collection[str]) -> bool:
    """Whether an Origin header (`scheme://host[:port]`) names one of `hosts`; `null` and anything else do not."""
    parsed = urlsplit(origin)
    return bool(parsed.scheme and parsed.netloc) and not parsed.path and allowed(parsed.netloc, hosts)


class HostCheck:
    """ASGI middleware: a request whose Host, or a WebSocket whose Origin, names no allowed host gets a 403."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        if not self.hosts:
            raise NoHostCheck("no allowed hosts: start the studio with `sitter studio`, which names them")

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] not in ("http", "websocket") or self._passes(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(REFUSED)).encode())]})
            await send({"type": "http.response.body", "body": REFUSED})
        else:
            await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn answers 403

    def _passes(self, scope: Scope) -> bool:
        headers = [(name, value.decode("latin-1")) for name, value in scope["headers"]]
        host = [value for name, value in headers if name == b"host"]
        if len(host) != 1 or not allowed(host[0], self.hosts):
            return False
        origin = [value for name, value in headers if name == b"origin"]
        return scope["type"] == "http" or all(origin_allowed(value, self.hosts) for value in origin)


def install() -> None:
    """Make Streamlit's server wrap the app it builds in HostCheck, with the hosts of `server.allowedHosts`."""
    from streamlit import config
    from streamlit.web.server.starlette import starlette_server

    build = getattr(starlette_server, "create_starlette_app", None)
    if build is None or "create_starlette_app" not in starlette_server.UvicornServer.start.__code__.co_names:
        raise NoHostCheck("this Streamlit no longer builds its server's app in starlette_server."
                          "create_starlette_app: studio/app/hosts.py must learn where it does")

    def checked_app(runtime: object) -> HostCheck:
        hosts = [host_name(host) for host in config.get_option("server.allowedHosts")]
        return HostCheck(build(runtime), hosts)

    starlette_server.create_starlette_app = checked_app


if __name__ == "__main__":
    install()
    from streamlit.web.cli import main

    sys.argv[0] = "streamlit"
    main(prog_name="streamlit")
