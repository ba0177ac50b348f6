"""What the tests that start a real `casenotes serve` process share."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any CASENOTES_* of its own, on `data_dir`, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env.update(CASENOTES_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", **settings)
    return env
