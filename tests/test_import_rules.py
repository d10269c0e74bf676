"""The layering rules of docs/ARCHITECTURE.md, checked by import-linter (contracts in pyproject.toml)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the dev extras"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def _calls_to(name: str, folder: Path) -> list[str]:
    """``file:line`` of every call of ``<something>.{name}(...)`` in the Python files under ``folder``."""
    import ast

    found = []
    for file in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                found.append(f"{file.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_front_ends_leave_auditing_to_the_services() -> None:
    """Every state change is audited by the service that makes it, never by the CLI or the GUI."""
    assert _calls_to("record", ROOT / "dfdesk" / "services")  # the check can see a call
    assert _calls_to("record", ROOT / "dfdesk" / "cli") == []
    assert _calls_to("record", ROOT / "dfdesk" / "gui") == []
