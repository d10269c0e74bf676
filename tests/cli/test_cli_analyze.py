from __future__ import annotations

import json
from pathlib import Path

from dfdesk.cli.main import build_parser
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.models import list_installed
from dfdesk.services.verdicts import FUSION_CHOICES, NO_VALIDATED_FUSION, headline
from tests.cli import bad_inputs
from tests.cli.conftest import dump, integrity
from tests.services.evidence_fixtures import OVERCLAIM
from trainer.stacking import write_stacking

MESO = ("meso4_df", "meso4_f2f")


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
    assert document["settings"]["fusion"] == "auto"  # the default rule
    assert f"analysis {document['analysis_id']}: {headline(document['verdict'])}" in result.stdout


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


def test_analyze_unknown_model_fails_cleanly_before_writing_anything(dfdesk, clip_dir: Path) -> None:
    result = dfdesk("analyze", str(clip_dir / "face.mp4"), "--models", "nonsense")
    assert result.code == 2
    assert "not installed: nonsense" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not dfdesk.db_path.exists()  # no case, evidence or audit row: the database was never opened


def test_analyze_checks_its_output_paths_before_any_work(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken.pdf"
    taken.write_bytes(b"someone's report")
    for option, value, words in (("--json", str(tmp_path / "missing" / "out.json"), "does not exist"),
                                 ("--json", str(tmp_path), "is a folder"),
                                 ("--report", str(taken), "already exists")):
        result = dfdesk("analyze", str(clip_dir / "face.mp4"), option, value, "--models", "meso4_df")
        assert result.code == 2 and words in result.stderr, (option, value, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert not dfdesk.db_path.exists() and taken.read_bytes() == b"someone's report"


def test_the_fusion_option_offers_auto_and_defaults_to_the_requests_rule() -> None:
    args = build_parser("analyze").parse_args(["analyze", "video.mp4"])
    assert args.fusion == AnalysisRequest().fusion == "auto"
    assert build_parser("analyze").parse_args(["analyze", "video.mp4", "--fusion", "stacking"]).fusion == "stacking"
    assert FUSION_CHOICES == ("auto", "mean", "weighted", "stacking")


def write_fit(weights: dict[str, float], bias: float) -> None:
    """A fitted ensemble (format 2) in the user models folder, which the dfdesk subprocess reads."""
    hashes = {c.name: c.weights_sha256 for c in list_installed()}
    clips = [{"name": f"v{i}.mp4", "sha256": f"{i:064x}", "label": "fake" if i < 15 else "real"} for i in range(25)]
    write_stacking({"format": 2, "weights": weights, "bias": bias,
                    "models": [{"name": n, "weights_sha256": hashes[n]} for n in weights],
                    "likelihood_ratio": {"slope": 1.0, "intercept": 0.0, "lower_log10": -0.9, "upper_log10": 0.8},
                    "coverage": {"validated": [{"family": "face_swap", "fakes": 15, "detected": 0}],
                                 "real_clips": 10, "real_called_fake": 0},
                    "validation": {"n_videos": 25, "n_fake": 15, "clips": clips}})


def analyse(dfdesk, clip: Path, out: Path):
    result = dfdesk("analyze", str(clip), "--json", str(out), "--models", ",".join(MESO), "--frames", "4",
                    "--device", "cpu")
    assert result.code == 0, result.stderr
    return result, json.loads(out.read_text())


def test_the_summary_line_says_no_manipulation_detected_never_real(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    write_fit({"meso4_df": 0.1, "meso4_f2f": 0.0}, bias=-12.0)  # every video reads as "no manipulation"
    result, document = analyse(dfdesk, clip_dir / "face.mp4", tmp_path / "out.json")
    assert document["verdict"] == "real" and document["fusion"] == "stacking"  # the scripts' value stays
    summary = result.stdout.splitlines()
    assert summary[0].startswith(f"analysis {document['analysis_id']}: no manipulation detected by these models")
    assert summary[1].startswith("  fusion: stacking (requested: auto), the ensemble fitted on 25 labelled")
    assert not OVERCLAIM.findall(result.stdout)


def test_without_a_validated_fusion_the_cli_says_inconclusive_and_why(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    write_fit({"mesoinception4_df": 1.0, "mesoinception4_f2f": 0.5}, bias=0.0)  # fitted for other models
    result, document = analyse(dfdesk, clip_dir / "face.mp4", tmp_path / "out.json")
    assert document["verdict"] == "inconclusive" and document["fusion"] == "mean"
    assert document["settings"]["fusion"] == "auto" and document["likelihood_ratio"] is None
    assert document["explanation"].startswith(f"{NO_VALIDATED_FUSION} (the stacking weights were not fitted for")
    assert all(d["fake_probability"] is not None for d in document["detectors"])  # per-model scores still given
    summary = result.stdout.splitlines()
    assert summary[0].startswith(f"analysis {document['analysis_id']}: inconclusive P(fake) ")
    assert summary[1] == (f"  fusion: mean (requested: auto), the plain mean of the calibrated P(fake) of the models "
                          f"that produced a score, because {NO_VALIDATED_FUSION}; an uncalibrated mean cannot decide "
                          "the verdict, which is therefore inconclusive")
    assert [line.split()[0] for line in summary[2:2 + len(MESO)]] == list(MESO)
    assert summary[2 + len(MESO):] == [f"  warning: {w}" for w in document["warnings"]]  # the analysis's warnings last
    assert any(w.startswith(NO_VALIDATED_FUSION) for w in document["warnings"])
