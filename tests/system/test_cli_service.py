"""The served app in a process of its own, as a `casenotes serve` worker builds it: an
ONNX-backed worker never loads torch. (The operator's commands are tested in
tests/service/test_cli_service.py.)"""

from __future__ import annotations

import pytest

SERVED_APP_LOADS_TORCH = """
import sys
import casenotes.service.main
from casenotes.service.app import build_services
services = build_services(casenotes.service.main.settings)
print(services.pipeline.encoder.name, sys.modules.get("torch") is not None)
"""


@pytest.mark.parametrize(("backend", "torch_loaded"), [("onnx-fp32", False), ("torch", True)])
def test_the_served_app_leaves_torch_out_unless_its_encoder_is_torch(tmp_path, backend, torch_loaded):
    """torch costs an ONNX-backed worker about 300 MB it never uses."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CASENOTES_DATA_DIR": str(tmp_path / "data"), "CASENOTES_ENCODER": backend,
           "HF_HUB_OFFLINE": "1"}
    finished = subprocess.run([sys.executable, "-c", SERVED_APP_LOADS_TORCH], env=env, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    name, loaded = finished.stdout.split()
    assert name.endswith(backend) if backend != "torch" else "/onnx" not in name
    assert loaded == str(torch_loaded)
