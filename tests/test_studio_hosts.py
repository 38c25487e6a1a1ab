"""DNS rebinding: `sitter studio` answers only requests whose Host (and, on the WebSocket, Origin) names a host it
was told it serves: its own address, localhost, and what --allow-host and SITTER_ALLOWED_HOSTS add.

A page on evil.example whose name an attacker re-points at 127.0.0.1 reaches the studio with `Host:
evil.example:PORT` and a matching Origin, so Streamlit's same-origin check passes; without a login, that socket
drives every page. Here the real studio runs on a free port and is asked over raw HTTP, as such a page would.
"""

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import free_port, wait_healthy

from studio.app import hosts, server
from studio.settings import Settings

STREAM = "/_stcore/stream"  # Streamlit's WebSocket: the whole app runs over it
FLAG_HOST = "studio.example.org"  # given with --allow-host
ENV_HOST = "desk.example.net"  # given in SITTER_ALLOWED_HOSTS


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`sitter studio` on a free port with one host allowed by flag and one by setting, stopped afterwards."""
    port = free_port()
    env = {**os.environ, "SITTER_DB_URL": "", "SITTER_ALLOWED_HOSTS": f"{ENV_HOST}, "}
    sitter = Path(sys.executable).with_name("sitter")
    home = tmp_path_factory.mktemp("home")
    argv = [str(sitter), "studio", "--port", str(port), "--home", str(home), "--allow-host", FLAG_HOST]
    studio = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", studio)
        yield port
    finally:
        studio.terminate()
        studio.wait(timeout=30)


def test_the_studio_serves_its_own_address_and_localhost(port: int) -> None:
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        status, body = _get(port, host)
        assert status == 200 and b"<html" in body.lower(), host


def test_a_page_asked_for_under_another_name_is_refused_without_content(port: int) -> None:
    for path in ("/", "/_stcore/health", "/media/anything.mp4", "/Consent"):
        status, body = _get(port, f"evil.example:{port}", path)
        assert status == 403, path
        assert b"<html" not in body.lower() and b"script" not in body.lower(), body


def test_the_websocket_under_another_name_is_refused(port: int) -> None:
    assert _upgrade(port, f"127.0.0.1:{port}") == 101  # the same request under the studio's own name is accepted
    assert _upgrade(port, f"evil.example:{port}", origin=f"http://evil.example:{port}") == 403
    assert _upgrade(port, f"evil.example:{port}", origin=f"evil.example:{port}") == 403  # as the issue sent it
    assert _upgrade(port, f"evil.example:{port}") == 403


def test_the_websocket_from_a_page_on_another_origin_is_refused(port: int) -> None:
    assert _upgrade(port, f"127.0.0.1:{port}", origin=f"http://127.0.0.1:{port}") == 101
    assert _upgrade(port, f"127.0.0.1:{port}", origin=f"http://evil.example:{port}") == 403
    assert _upgrade(port, f"127.0.0.1:{port}", origin="http://127.0.0.1.evil.example") == 403


def test_hosts_added_by_flag_and_setting_are_served(port: int) -> None:
    for name in (FLAG_HOST, ENV_HOST):
        host = f"{name}:{port}"
        assert _get(port, host)[0] == 200, host
        assert _upgrade(port, host, origin=f"http://{host}") == 101, host
    assert _get(port, "example.org")[0] == 403  # a parent domain is another name


@pytest.mark.parametrize(("header", "answer"), [
    ("127.0.0.1:8501", True), ("localhost", True), ("LocalHost.:80", True), ("[::1]:8501", True),
    ("studio.example.org", True), ("evil.example:8501", False), ("", False), ("127.0.0.1.evil.example", False),
    ("evil.example@127.0.0.1", False), ("127.0.0.1:notaport", False), ("127.0.0.1/x", False),
    ("[::1", False), ("sub.studio.example.org", False),
])
def test_a_host_header_names_an_allowed_host_or_not(header: str, answer: bool) -> None:
    assert hosts.allowed(header, {"127.0.0.1", "localhost", "::1", "studio.example.org"}) is answer


def test_the_command_allows_the_address_localhost_and_what_is_added() -> None:
    def allowed(argv: list[str]) -> list[str]:
        return [a.partition("=")[2] for a in argv if a.startswith("--server.allowedHosts=")]

    assert set(allowed(server.command(8501, "127.0.0.1"))) == {"127.0.0.1", "localhost", "::1"}
    assert set(allowed(server.command(8501, "10.0.0.5", ["Studio.Example.org."]))) == {
        "10.0.0.5", "127.0.0.1", "localhost", "::1", "studio.example.org"}
    assert "0.0.0.0" not in allowed(server.command(8501, "0.0.0.0"))  # "every interface" is no name to serve
    with pytest.raises(ValueError, match="without a scheme"):
        server.command(8501, "127.0.0.1", ["https://studio.example.org"])


def test_the_allowed_hosts_setting_is_a_comma_separated_list() -> None:
    assert Settings.from_env({"SITTER_ALLOWED_HOSTS": " a.example, b.example,,"}).allowed_hosts == (
        "a.example", "b.example")
    assert Settings.from_env({}).allowed_hosts == ()


# helpers


def _get(port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _upgrade(port: int, host: str, origin: str | None = None) -> int:
    """The status of a WebSocket handshake on Streamlit's stream: 101 when accepted."""
    lines = [f"GET {STREAM} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Protocol: streamlit"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode()
    assert status_line.startswith("HTTP/1.1 "), status_line
    return int(status_line.split()[1])
