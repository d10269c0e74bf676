"""Heat maps are filed by the database they belong to, so two case databases never share or overwrite them."""
from __future__ import annotations

import hashlib
from pathlib import Path

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.artifact_folders import analysis_folder, database_files_dir
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database


def test_folder_is_derived_from_the_database_file(tmp_path: Path):
    db = Database(tmp_path / "one.sqlite")
    assert database_files_dir(db) == tmp_path / "one.sqlite.files"
    assert analysis_folder(db, 3, 12) == tmp_path / "one.sqlite.files" / "case-00003" / "analysis-00012"


def _analyse(db: Database, clip: Path) -> list:
    intake = ingest_video(db, "Case", clip, "alice")
    request = AnalysisRequest(models=("meso4_df",), frames=4)
    analysis_id = run_to_end(run_analysis(db, intake.evidence_id, request, "alice"))
    with db.unit_of_work() as session:
        return list(load_analysis(session, analysis_id).heatmaps)


def test_two_databases_with_the_same_ids_keep_their_own_heat_maps(tmp_path: Path, clip_dir: Path):
    first, second = Database(tmp_path / "a" / "cases.sqlite"), Database(tmp_path / "b" / "cases.sqlite")
    maps_a = _analyse(first, clip_dir / "face.mp4")
    digests_a = {h.path: hashlib.sha256(Path(h.path).read_bytes()).hexdigest() for h in maps_a}
    maps_b = _analyse(second, clip_dir / "face.mp4")  # case 1, analysis 1 again, in another database
    assert maps_a and maps_b
    assert not {h.path for h in maps_a} & {h.path for h in maps_b}
    assert all(Path(h.path).is_relative_to(database_files_dir(first)) for h in maps_a)
    assert all(Path(h.path).is_relative_to(database_files_dir(second)) for h in maps_b)
    for heatmap in maps_a:  # the first database's files are untouched and still match their recorded hashes
        assert hashlib.sha256(Path(heatmap.path).read_bytes()).hexdigest() == digests_a[heatmap.path] == heatmap.sha256
