"""What the tests that start a real `casenotes serve` process share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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


def casenotes_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "casenotes", *args]


def make_token(role: str, env: dict[str, str], cwd: Path) -> str:
    """A new token of `role` from `casenotes token create`, as an operator would make one."""
    done = subprocess.run(casenotes_command("token", "create", "--role", role, "--name", f"live-{role}"), env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=True)
    token = done.stdout.strip()
    assert token.startswith("cn_") and "\n" not in token, done.stdout
    return token


class CasenotesProcess:
    """A `casenotes` command in its own process group, so a kill reaches it and anything it started."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self._log = log.open("ab")
        self.process = subprocess.Popen(casenotes_command(*args), env=env, cwd=cwd, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str) -> None:
        wait_until_healthy(url, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, as a service manager stops a process, and wait for it to exit; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        try:
            self.kill()
        except ProcessLookupError:
            pass
        finally:
            self._log.close()
