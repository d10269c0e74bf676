"""paths.docs_dir finds the documentation from a checkout and in a frozen (PyInstaller) bundle, and the spec ships
docs/ where docs_dir looks.  (The bundle itself is not built here: too slow for the test suite.)"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from dfdesk import paths

REPO = Path(__file__).resolve().parents[2]


def test_from_a_checkout_it_is_the_repositorys_docs_folder(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert paths.docs_dir() == REPO / "docs"
    assert (paths.docs_dir() / "ARCHITECTURE.md").is_file()


def test_frozen_it_is_the_docs_folder_of_the_bundle(monkeypatch, tmp_path):
    bundle = tmp_path / "dfdesk" / "_internal"
    (bundle / "docs").mkdir(parents=True)
    (bundle / "docs" / "ARCHITECTURE.md").write_text("# Architecture\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.docs_dir() == bundle / "docs"
    assert (paths.docs_dir() / "ARCHITECTURE.md").is_file()


def test_frozen_without_meipass_it_is_beside_the_executable(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "dfdesk"))
    assert paths.docs_dir() == tmp_path / "docs"


def test_the_spec_ships_docs_where_docs_dir_looks():
    spec = (REPO / "pyinstaller.spec").read_text(encoding="utf-8")
    datas = spec[spec.index("datas = ["):spec.index("]\n", spec.index("datas = ["))]
    assert re.search(r'\(str\(ROOT / "docs"\), "docs"\)', datas)
    assert paths.docs_dir().relative_to(paths.install_root()) == Path("docs")
