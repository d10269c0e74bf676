"""The verdict on screen: a manipulated video the models missed is never called real or authentic anywhere on the
analysis page; the panel shows the likelihood ratio, its bounds and verbal scale, and the coverage; the timeline
shows the fused calibrated curve beside the per-model ones; the model manager shows the fitted ensemble's
out-of-sample validation with its plots."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QLineEdit, QTabWidget, QTextEdit, QWidget

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FIGURES
from dfdesk.gui import queries
from dfdesk.gui.settings import Analyst
from dfdesk.gui.views.analysis_view import AnalysisPage
from dfdesk.gui.views.model_manager import ModelManager
from dfdesk.services import ensemble_info
from dfdesk.services.models import list_installed
from dfdesk.store.tables import Analysis
from tests.services.evidence_fixtures import OVERCLAIM, lr_verdict, make_lr_analysis, memberless_verdict
from trainer.lr_system import write_plots
from trainer.stacking import write_stacking


def widget_texts(root: QWidget) -> list[str]:
    """Every text a person can read on ``root`` and its children: labels, buttons, titles, text boxes, tool tips."""
    texts = []
    for widget in [root, *root.findChildren(QWidget)]:
        texts += [widget.toolTip(), widget.windowTitle()]
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            texts.append(widget.text())
        if isinstance(widget, QGroupBox):
            texts.append(widget.title())
        if isinstance(widget, QTextEdit):
            texts.append(widget.toPlainText())
        if isinstance(widget, QTabWidget):
            texts += [widget.tabText(i) for i in range(widget.count())]
    return [t for t in texts if t]


@pytest.fixture
def page(qtbot, db, jobs, settings, clip_dir: Path) -> AnalysisPage:
    widget = AnalysisPage(db, jobs, settings, lambda: "erin", make_lr_analysis(db, clip_dir / "face.mp4"))
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitUntil(lambda: widget.crop_job.state == "done", timeout=10_000)
    yield widget
    widget.shutdown()


def test_a_missed_fake_is_never_called_real_or_authentic_on_screen(page: AnalysisPage):
    legend = [label.text for _sample, label in page.timeline.legend.items]
    texts = widget_texts(page) + legend
    assert not [t for t in texts if OVERCLAIM.search(t)]
    panel = page.verdict
    assert panel.headline.text() == "No manipulation detected by these models"
    assert "LR 1/7.9" in panel.evidence.text() and "25 validation videos" in panel.evidence.text()
    assert "weak support for the proposition that the face in this video was not manipulated" in panel.evidence.text()
    assert "face swap: 2 of 6 validation fakes detected (33%)" in panel.coverage.text()
    assert "Not known to be detected: fully synthetic video" in panel.coverage.text()


def test_an_ensemble_without_members_is_shown_as_no_evidence(qtbot, db, jobs, settings, clip_dir: Path):
    """The shipped fit when no detector passed validation: the panel says no detector carries weight, instead of a
    50 % "band 50 %–50 %" that reads like a measured coin toss."""
    verdict = memberless_verdict()
    widget = AnalysisPage(db, jobs, settings, lambda: "erin", make_lr_analysis(db, clip_dir / "face.mp4", verdict))
    qtbot.addWidget(widget)
    panel = widget.verdict
    assert panel.headline.text() == "Inconclusive"
    assert panel.probability.text() == "Fitted-ensemble P(fake) 50% for every video: no detector carries weight in it"
    assert panel.evidence.text().startswith("LR 1 for every video: no detector carries weight in the fitted ensemble.")
    assert panel.explanation.text() == verdict.explanation
    widget.shutdown()


def test_the_analysis_warnings_are_on_the_page_and_on_the_command_line(qtbot, db, jobs, settings, clip_dir: Path,
                                                                      capsys):
    """Damaged frames, a failed detector, another face flagged, a validation video: what the analysis recorded on the
    way is shown beside the verdict (it was only in the JSON and the report)."""
    from dfdesk.cli.analyze_command import _print_summary
    from dfdesk.services.analysis_json import analysis_document
    from dfdesk.services.results import load_analysis

    recorded = ["face track 1 (not the main face) scores P(fake) 0.91", "sbi_effnet_lite failed and was left out"]
    plain, warned = (make_lr_analysis(db, clip_dir / "face.mp4", case=f"Case {n}") for n in ("A", "B"))
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, warned)
        analysis.summary = {**analysis.summary, "warnings": recorded}
    pages = {}
    for analysis_id in (plain, warned):
        pages[analysis_id] = AnalysisPage(db, jobs, settings, lambda: "erin", analysis_id)
        qtbot.addWidget(pages[analysis_id])
    assert not pages[plain].verdict.warnings.isVisibleTo(pages[plain].verdict)
    panel = pages[warned].verdict
    assert panel.warnings.isVisibleTo(panel) and panel.warnings.text() == "\n".join(f"Warning: {w}" for w in recorded)
    with db.unit_of_work() as session:
        _print_summary(analysis_document(load_analysis(session, warned)))
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == [f"  warning: {w}" for w in recorded]
    for page in pages.values():
        page.shutdown()


def test_the_evidence_table_shows_no_probability_where_it_is_no_evidence(db, clip_dir: Path):
    weighted = make_lr_analysis(db, clip_dir / "face.mp4", case="Case W")
    memberless = make_lr_analysis(db, clip_dir / "face.mp4", memberless_verdict(), case="Case N")
    with db.unit_of_work() as session:
        shown = {}
        for analysis_id in (weighted, memberless):
            case_id = session.get(Analysis, analysis_id).evidence.case_id
            shown[analysis_id] = queries.evidence_rows(session, case_id)[0].fake_probability
    assert shown[weighted] == pytest.approx(lr_verdict(-6.0).fake_probability) and shown[memberless] is None


def test_the_timeline_shows_the_fused_calibrated_curve_beside_each_model(page: AnalysisPage):
    legend = [label.text for _sample, label in page.timeline.legend.items]
    assert legend == ["meso4_df", "fused (calibrated)"]
    assert set(page.timeline.curves) == {"meso4_df", "fused"}


def test_the_model_manager_shows_the_fitted_ensembles_validation(qtbot, settings, jobs, db):
    hashes = {c.name: c.weights_sha256 for c in list_installed() if c.name in ("meso4_df", "meso4_f2f")}
    clips = [{"name": f"v{i}.mp4", "sha256": f"{i:064x}", "label": "fake" if i < 3 else "real"} for i in range(5)]
    write_stacking({"format": 2, "weights": {"meso4_df": 1.3, "meso4_f2f": 0.0}, "bias": 0.1,
                    "models": [{"name": n, "weights_sha256": h} for n, h in hashes.items()],
                    "likelihood_ratio": {"slope": 0.5, "intercept": 0.0, "lower_log10": -0.6, "upper_log10": 0.5},
                    "coverage": {"validated": [{"family": "face_swap", "fakes": 3, "detected": 1}],
                                 "real_clips": 2, "real_called_fake": 0},
                    "validation": {"n_videos": 5, "n_fake": 3, "clips": clips, "protocol": "leave one group out"},
                    "metrics": {"ensemble_auc_leave_pair_out": 0.83, "cllr": 0.71, "cllr_min": 0.52,
                                "member_auc": {"meso4_df": 0.83, "meso4_f2f": 0.5}},
                    "created_at": "2026-01-01T00:00:00+00:00"})
    folder = paths.user_models_dir()
    write_plots([0.4, 0.2, -0.1, -0.5, 0.1], [1, 1, 1, 0, 0], folder / STACKING_FIGURES["ece"],
                folder / STACKING_FIGURES["tippett"])
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    html = manager.ensemble.toHtml()
    text = manager.ensemble.toPlainText()
    assert "Members with weight: meso4_df (1.3)" in text and "5 labelled videos (3 manipulated, 2 not)" in text
    assert "Cllr 0.710, Cllr-min 0.520" in text and "face swap: 1 of 3 validation fakes detected" in text
    assert html.count("<img") == 2 and STACKING_FIGURES["tippett"] in html
    assert manager.tabs.tabText(1) == "Ensemble validation"


def test_the_model_manager_says_when_no_ensemble_is_fitted(qtbot, settings, jobs, db, monkeypatch):
    monkeypatch.setattr(ensemble_info, "stacking_files", lambda: [paths.user_models_dir() / "stacking.json"])
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    assert "dfdesk train --stacking" in manager.ensemble.toPlainText()
    assert "no likelihood ratio" in manager.ensemble.toPlainText()
