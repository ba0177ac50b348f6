"""What the tests that start a real `casenotes serve` process share."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

STARTUP_SECONDS = 180  # the model loads at start-up; a busy machine is slow at it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any CASENOTES_* of its own, on `data_dir`, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env.update(CASENOTES_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", **settings)
    return env


def wait_until_healthy(url: str, process: subprocess.Popen | None = None) -> None:
    """Until `url`/healthz answers 200; fails at once if the server `process` has exited."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process is None or process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the server did not answer /healthz within {STARTUP_SECONDS}s")
