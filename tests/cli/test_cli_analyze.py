from __future__ import annotations

import json
from pathlib import Path

from tests.cli import bad_inputs
from tests.cli.conftest import dump, integrity


def test_analyze_writes_the_contract_json(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = dfdesk("analyze", str(clip_dir / "face.mp4"), "--json", str(out), "--models", "meso4_df",
                    "--frames", "4", "--sampling", "uniform", "--seed", "1", "--device", "cpu", "--case", "CLI case")
    assert result.code == 0, result.stderr
    document = json.loads(out.read_text())
    video = document["video"]
    assert {k: video[k] for k in ("width", "height", "frames")} == {"width": 320, "height": 240, "frames": 20}
    assert len(video["sha256"]) == 64 and video["fps"] == 25.0 and video["duration_s"] > 0
    assert document["verdict"] in ("fake", "real", "inconclusive")
    assert 0 <= document["fake_probability"] <= 1
    detector = next(d for d in document["detectors"] if d["name"] == "meso4_df")
    assert detector["version"] and len(detector["weights_sha256"]) == 64
    assert [f["index"] for f in detector["frames"]] == sorted(f["index"] for f in detector["frames"])
    assert all({"index", "time_s", "track", "fake_probability"} <= set(f) for f in detector["frames"])
    assert document["faces"]["tracks"] == 1 and document["faces"]["frames_with_face"] == 4
    assert {"decode+faces", "meso4_df", "save"} <= set(document["timings_s"])
    assert document["seed"] == 1 and document["case"]["name"] == "CLI case"
    assert f"analysis {document['analysis_id']}: {document['verdict']}" in result.stdout


def test_analyze_refuses_bad_input_with_one_line(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    assert dfdesk("ingest", str(clip_dir / "face.mp4"), "--case", "A").code == 0
    before = dump(dfdesk.db_path)
    out = tmp_path / "never.json"
    for path in (bad_inputs.random_bytes(tmp_path), bad_inputs.zero_byte(tmp_path), bad_inputs.missing(tmp_path)):
        result = dfdesk("analyze", str(path), "--json", str(out))
        assert result.code == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()
    assert dump(dfdesk.db_path) == before and integrity(dfdesk.db_path) == "ok"


def test_analyze_unknown_model_fails_cleanly(dfdesk, clip_dir: Path) -> None:
    result = dfdesk("analyze", str(clip_dir / "face.mp4"), "--models", "nonsense")
    assert result.code == 1
    assert "not installed: nonsense" in result.stderr and len(result.stderr.strip().splitlines()) == 1
