"""Everything below the GUI works on a machine without Qt: every module of dfdesk.core, dfdesk.detectors,
dfdesk.store and dfdesk.services imports in a fresh interpreter in which PySide6 (and pyqtgraph, which needs it)
cannot be imported at all.  The import-linter contracts see static imports; this also catches a lazy or
string-based import of Qt that runs when a module loads."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dfdesk.core", "dfdesk.detectors", "dfdesk.store", "dfdesk.services")

SCRIPT = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = ("PySide6", "pyqtgraph")
SCRIPTS = "dfdesk.store.migrations"  # Alembic's scripts: run by Alembic inside a migration, not imported

class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is unimportable in this test")
        return None

sys.meta_path.insert(0, NoQt())
try:
    import PySide6  # noqa: F401  (the finder must really stop it)
    sys.exit("PySide6 could still be imported: the test proves nothing")
except ImportError:
    pass
imported = []
for package_name in sys.argv[1:]:
    package = importlib.import_module(package_name)
    imported.append(package_name)
    for module in pkgutil.walk_packages(package.__path__, package_name + "."):
        if module.name.startswith(SCRIPTS):
            continue
        importlib.import_module(module.name)
        imported.append(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print(len(imported))
"""


def test_core_detectors_store_and_services_import_without_pyside6() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    modules = int(result.stdout.strip().splitlines()[-1])
    assert modules > 60, f"only {modules} modules imported: the walk missed the packages"  # 89 today
