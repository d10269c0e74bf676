"""Runs without a bundle: the frozen app's entry (packaging/entry.py) must import every module that dfdesk imports
by name at run time (PyInstaller cannot see `import_module("dfdesk.cli." + name)`), or the bundle lacks it."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from dfdesk.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
MODULE_NAME = re.compile(r"(dfdesk|trainer)(\.\w+)+")


def imported_by_entry() -> set[str]:
    tree = ast.parse((ROOT / "packaging" / "entry.py").read_text())
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def named_in_sources() -> set[str]:
    """String constants in dfdesk/ and trainer/ that name one of their modules ("dfdesk.services.report")."""
    names = set()
    for source in [*ROOT.glob("dfdesk/**/*.py"), *ROOT.glob("trainer/**/*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
                if module_exists(node.value):
                    names.add(node.value)
    return names


def test_entry_imports_every_cli_command_module():
    missing = {f"dfdesk.cli.{name}" for name in COMMANDS.values()} - imported_by_entry()
    assert not missing, f"add to packaging/entry.py: {sorted(missing)}"


def test_entry_imports_every_module_named_by_a_string():
    missing = named_in_sources() - imported_by_entry()
    assert not missing, f"add to packaging/entry.py: {sorted(missing)}"


def test_smoke_gui_option_opens_the_main_window_and_quits(tmp_path):
    """The hidden `dfdesk --smoke-gui` that the bundle's smoke test relies on, from the source tree."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DFDESK_DATA_DIR": str(tmp_path / "data"),
           "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "dfdesk", "--smoke-gui"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("main window shown: dfdesk")
