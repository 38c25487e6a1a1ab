"""How `sitter studio` starts the web app: Streamlit serving main.py, with the settings a studio needs.

XSRF protection stays on, usage statistics stay off (the studio works offline), the toolbar shows no
developer menu, the file watcher is off (the app is installed code, not a script being edited), and the
server's upload limit is the largest of the per-kind limits in common.py, which the pages enforce one by one.
"""

import sys
from importlib.resources import files
from pathlib import Path

from studio.app.common import MAX_UPLOAD_MB

MAIN = Path(str(files("studio") / "app" / "main.py"))


def command(port: int, address: str) -> list[str]:
    """The argv that runs the studio on `address`:`port` with this Python."""
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
    return [sys.executable, "-m", "streamlit", "run", str(MAIN), *(f"--{k}={v}" for k, v in options.items())]
