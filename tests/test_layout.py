"""The shape of the source: imports flow one way, the lint rules hold, modules stay small and
the tree names no machine's folders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "casenotes"
MIGRATIONS = PACKAGE / "store" / "migrations" / "versions"
MAX_MODULE_LINES = 400


def test_layout_imports_flow_one_way():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(REPO / "pyproject.toml")) == 0


def test_layout_lint_rules_hold():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "casenotes", "tests", "eval"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layout_no_module_is_over_400_lines():
    lines = {str(path.relative_to(REPO)): len(path.read_text(encoding="utf-8").splitlines())
             for path in PACKAGE.rglob("*.py") if MIGRATIONS not in path.parents}
    long = {name: count for name, count in lines.items() if count > MAX_MODULE_LINES}
    assert long == {}


def test_layout_no_machine_paths_in_the_tree():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    machine_path = re.compile(r"(?<![\w.])/(?:work|home|root|Users|tmp/fresh-check)/")
    found = []
    for name in tracked:
        path = REPO / name
        if path.suffix not in {".py", ".md", ".toml", ".yaml", ".yml", ".html", ".js", ".css", ".ini", ".cfg", ".txt", ""} \
                or name.startswith("eval/data/") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if machine_path.search(line)]
    assert found == []
