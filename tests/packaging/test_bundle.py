"""Smoke test of a built bundle (issue 9): set DFDESK_BUNDLE=dist/cpu/dfdesk after packaging/build.sh cpu.

Runs the bundle with no virtual environment, HOME in a temporary folder, Qt offscreen and, where `unshare -n`
works (root), in a network namespace without network: --version, a headless analysis of a real clip with --json,
and the GUI opening its main window and closing. Skipped, with the reason, when no bundle is given.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dfdesk import paths
from tests.packaging.clean_env import BUNDLE_ENV, bundle_executable, no_network_prefix, run_bundle

ROOT = Path(__file__).resolve().parents[2]
EXE = bundle_executable()
pytestmark = pytest.mark.skipif(
    EXE is None, reason=f"no built bundle: run packaging/build.sh cpu and set {BUNDLE_ENV}=dist/cpu/dfdesk")
CLIP = Path("videos/real/lp_d0.mp4")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runs_without_network_where_possible():
    """Not a failure either way: says whether the other tests ran without a network."""
    print("network namespace:", "none (unshare -n)" if no_network_prefix() else "unavailable here, host network")


def test_version(tmp_path):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    proc, _ = run_bundle(EXE, ["--version"], tmp_path / "home", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"dfdesk {version}"


def test_bundle_contents():
    internal = EXE.parent / "_internal"
    assert (internal / "dfdesk/store/migrations/env.py").is_file()
    assert list((internal / "dfdesk/store/migrations/versions").glob("*.py"))
    assert {p.name for p in (internal / "facenet_pytorch/data").glob("*.pt")} == {"pnet.pt", "rnet.pt", "onet.pt"}
    cards = list((internal / "models").rglob("*.toml")) + list((internal / "models").rglob("*.y*ml"))
    assert cards and list((internal / "models").rglob("*.safetensors"))
    platforms = {p.name for p in (internal / "PySide6/Qt/plugins/platforms").glob("*.so")}
    assert {"libqxcb.so", "libqoffscreen.so"} <= platforms
    assert list(internal.rglob("libavcodec*.so*")), "PyAV's FFmpeg libraries"
    assert not (internal / "triton").exists(), "triton is not needed (no torch.compile)"


@pytest.mark.real
@pytest.mark.slow
def test_analyze_real_clip(tmp_path):
    shared = paths.shared_data_dir()
    if shared is None or not (shared / CLIP).is_file():
        pytest.skip(f"no ../shared/data/{CLIP} (set {paths.SHARED_DATA_ENV})")
    clip = shared / CLIP
    before = sha256(clip)
    out = tmp_path / "out.json"
    proc, seconds = run_bundle(
        EXE, ["analyze", str(clip), "--models", "meso4_df", "--frames", "4", "--device", "auto", "--json", str(out),
              "--report", str(tmp_path / "report.pdf")],
        tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"  # reportlab, its fonts and matplotlib bundled
    result = json.loads(out.read_text())
    assert result["video"]["sha256"] == before == sha256(clip)  # the evidence is only read
    assert result["video"]["width"] > 0 and result["video"]["frames"] > 0
    assert result["verdict"] in {"fake", "real", "inconclusive"}
    assert 0.0 <= result["fake_probability"] <= 1.0
    [detector] = result["detectors"]
    assert detector["name"] == "meso4_df" and re.fullmatch(r"[0-9a-f]{64}", detector["weights_sha256"])
    assert 0.0 <= detector["fake_probability"] <= 1.0
    assert detector["frames"] and all(0.0 <= f["fake_probability"] <= 1.0 for f in detector["frames"])
    assert result["faces"]["frames_sampled"] == 4 and result["faces"]["frames_with_face"] >= 1
    assert result["timings_s"]["total"] > 0
    assert (tmp_path / "home/.local/share/dfdesk/cases.sqlite").is_file()  # the per-user folder under HOME
    print(f"analyze: {seconds:.1f} s, verdict {result['verdict']}, p(fake) {result['fake_probability']:.6f}")

    # The bundle computes what the source tree computes (the CPU variant's torch runs beside CUDA stubs).
    reference = tmp_path / "reference.json"
    env = {**os.environ, paths.DATA_DIR_ENV: str(tmp_path / "reference-data"), "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-m", "dfdesk", "analyze", str(clip), "--models", "meso4_df", "--frames", "4",
                    "--device", "cpu", "--json", str(reference)], env=env, check=True, capture_output=True, timeout=600)
    expected = json.loads(reference.read_text())
    assert result["fake_probability"] == pytest.approx(expected["fake_probability"], abs=1e-6)
    assert [f["fake_probability"] for f in detector["frames"]] == pytest.approx(
        [f["fake_probability"] for f in expected["detectors"][0]["frames"]], abs=1e-6)


@pytest.mark.slow
def test_gui_opens_offscreen_and_closes(tmp_path):
    proc, seconds = run_bundle(EXE, ["--smoke-gui"], tmp_path / "home", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "main window shown" in proc.stdout
    print(f"GUI: launch to main window shown and closed in {seconds:.1f} s")
