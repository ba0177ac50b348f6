"""The system tier: tests that start real servers (`casenotes serve`, one or more workers),
other worker processes or a Ray cluster. Every test under tests/system is marked `system`
here, whatever markers it carries itself, so `make test-fast` never selects one;
`make test-system` runs this tier alone and `make test` runs it with everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # Called with the whole session's items, not only this directory's: mark ours alone.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.system)
