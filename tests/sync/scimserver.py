"""A real SCIM 2.0 server (scim2-server, in memory) on 127.0.0.1, for tests/test_sync_scim.py and the benchmark."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

TOKEN = "scim-test-token"


class ScimServer:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        code = "from scim2_server.testserver.cli import main; main()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, "--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", TOKEN],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return self.url
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("scim2-server did not listen in 30 s")

    def client(self) -> Any:
        from httpx2 import Client
        from scim2_client.engines.httpx2 import SyncSCIMClient

        scim = SyncSCIMClient(Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}))
        scim.discover()
        return scim

    def add(self, scim: Any, **user: Any) -> str:
        """Create one user from its SCIM JSON; return its id."""
        model = scim.get_resource_model("User")
        return scim.create(model.model_validate(user)).id

    def replace(self, scim: Any, user_id: str, **user: Any) -> None:
        model = scim.get_resource_model("User")
        scim.replace(model.model_validate({**user, "id": user_id}))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
