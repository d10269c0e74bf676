"""The same video analysed from the desktop (settings, Analyse button, worker thread) and from `dfdesk analyze`
(in this process) with the same choices gives the same result: the same frames, per-frame scores, detector
P(fake) and verdict (real MTCNN, the shipped MesoNet models, two real case databases)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdesk.cli.main import run_cli
from dfdesk.gui.main_window import MainWindow
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import AnalysisView, load_analysis
from dfdesk.store.database import Database

MESO = ("meso4_df", "meso4_f2f")


def _gui_analysis(qtbot, db: Database, settings, jobs, clip: Path) -> AnalysisView:
    settings.enabled_models, settings.device = MESO, "cpu"  # frames and sampling left at "each model's own"
    intake = ingest_video(db, "Desktop", clip, "alice")
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    window.open_case(intake.case_id)
    window.evidence.table.selectRow(0)
    with qtbot.waitSignal(jobs.job_added) as added:
        window.evidence.analyse_button.click()
    with qtbot.waitSignal(added.args[0].finished, timeout=180_000):
        pass
    assert added.args[0].state == "done", added.args[0].error
    qtbot.waitUntil(lambda: jobs.active_count() == 0, timeout=10_000)
    with db.unit_of_work() as session:
        return load_analysis(session, added.args[0].result)


def _cli_analysis(clip: Path, tmp_path: Path) -> tuple[AnalysisView, dict]:
    db_path, out = tmp_path / "cli.sqlite", tmp_path / "cli.json"
    code = run_cli(["analyze", str(clip), "--case", "Command line", "--models", ",".join(MESO), "--device", "cpu",
                    "--db", str(db_path), "--json", str(out)])
    assert code == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    db = Database(db_path)
    try:
        with db.unit_of_work() as session:
            return load_analysis(session, document["analysis_id"]), document
    finally:
        db.close()


def _scores(view: AnalysisView) -> dict[str, list[tuple[int, float]]]:
    return {name: [(p.frame_index, p.fake_probability) for p in points] for name, points in view.points.items()}


def test_the_desktop_and_the_command_line_give_the_same_result(qtbot, db, settings, jobs, clip_dir, tmp_path):
    clip = clip_dir / "face.mp4"
    desktop = _gui_analysis(qtbot, db, settings, jobs, clip)
    command_line, document = _cli_analysis(clip, tmp_path)
    assert desktop.settings["plans"] == command_line.settings["plans"]
    assert {k: desktop.settings[k] for k in ("frames", "sampling", "fusion", "frame_aggregation", "models_requested")} \
        == {k: command_line.settings[k] for k in ("frames", "sampling", "fusion", "frame_aggregation",
                                                  "models_requested")}
    assert set(_scores(desktop)) >= set(MESO) and _scores(desktop).keys() == _scores(command_line).keys()
    for name, points in _scores(desktop).items():
        other = _scores(command_line)[name]
        assert [f for f, _ in points] == [f for f, _ in other]
        assert [p for _, p in points] == pytest.approx([p for _, p in other], abs=1e-6)
    runs = {d.name: d.fake_probability for d in desktop.detectors}
    assert runs == pytest.approx({d.name: d.fake_probability for d in command_line.detectors}, abs=1e-6)
    assert (desktop.verdict.label, desktop.verdict.fusion) == (command_line.verdict.label, command_line.verdict.fusion)
    assert document["verdict"] == desktop.verdict.label
