"""How `sitter studio` starts the web app: Streamlit serving main.py, with the settings a studio needs.

XSRF protection stays on, usage statistics stay off (the studio works offline), the toolbar shows no
developer menu, the file watcher is off (the app is installed code, not a script being edited), and the
server's upload limit is the largest of the per-kind limits in uploads.py, which the pages enforce one by one.

Against DNS rebinding, the studio answers only requests addressed to its allowed hosts: the address it listens on
(unless that is every interface, 0.0.0.0), localhost, and those a deployment adds. Streamlit runs under
studio/app/hosts.py, which checks every request's Host (and a WebSocket's Origin) against `server.allowedHosts`.
"""

import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from studio.app.hosts import EVERY_INTERFACE, LOCALHOST, host_name
from studio.app.uploads import MAX_UPLOAD_MB

MAIN = Path(str(files("studio") / "app" / "main.py"))


def allowed_hosts(address: str, extra: Iterable[str] = ()) -> list[str]:
    """The host names the studio answers to: `address`, localhost, and `extra` (ValueError names a bad one)."""
    own = [] if address.strip() in EVERY_INTERFACE else [address]
    return list(dict.fromkeys(host_name(host) for host in (*own, *LOCALHOST, *extra)))


def command(port: int, address: str, extra_hosts: Iterable[str] = ()) -> list[str]:
    """The argv that runs the studio on `address`:`port` with this Python, answering `allowed_hosts`."""
    options = {
        "server.port": port,
        "server.address": address,
        "server.headless": "true",
        "server.maxUploadSize": MAX_UPLOAD_MB,
        "server.enableXsrfProtection": "true",
        "server.fileWatcherType": "none",
        "browser.gatherUsageStats": "false",
        "client.toolbarMode": "viewer",
    }
    hosts = [f"--server.allowedHosts={host}" for host in allowed_hosts(address, extra_hosts)]
    return [sys.executable, "-m", "studio.app.hosts", "run", str(MAIN), *(f"--{k}={v}" for k, v in options.items()),
            *hosts]
