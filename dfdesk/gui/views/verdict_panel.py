"""Verdict panel: the verdict in words that do not overclaim, the likelihood ratio with its bounds and verbal scale,
what the ensemble was validated on (coverage), per-detector bars, agreement; the analyst's conclusion and notes.

The probability is named after the fusion that produced it (:data:`PROBABILITY_NAMES`, one per rule of
``dfdesk.core.fusion.FUSION_RULES``): a plain mean is never called a fused or calibrated probability, and a mean
that stood in for the fitted ensemble says it was a fall-back.  A model of this analysis that was trained on this
very video (:mod:`dfdesk.services.training_provenance`) is flagged in red."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui.presenters import (
    DetectorBar,
    coverage_text,
    detector_bars,
    evidence_text,
    percent,
    verdict_headline,
)
from dfdesk.gui.widgets.images import verdict_colour
from dfdesk.services import training_provenance
from dfdesk.services.models import list_installed
from dfdesk.services.notes import CONCLUSIONS
from dfdesk.services.results import AnalysisView, NoteView
from dfdesk.services.verdicts import fell_back

CONCLUSION_WORDS = {"agree": "I agree", "disagree": "I disagree", "inconclusive": "Inconclusive"}
PROBABILITY_NAMES = {  # fusion rule applied -> what its number is
    "stacking": "Fitted-ensemble P(fake)",
    "weighted": "AUC-weighted mean probability",
    "mean": "Mean probability",
}
FALLBACK_NAME = "Mean probability (fallback)"


def probability_text(view: AnalysisView) -> str:
    """The verdict's probability, named after the fusion actually applied, with its band."""
    verdict = view.verdict
    if verdict is None or verdict.fake_probability is None:
        return "no fake probability"
    requested = (view.settings or {}).get("fusion")
    if fell_back(requested, verdict.fusion):
        name = FALLBACK_NAME
    else:
        name = PROBABILITY_NAMES.get(verdict.fusion, f"Probability ({verdict.fusion or 'rule not recorded'})")
    if verdict.evidence is not None and not verdict.evidence.carries_evidence:
        return f"{name} {percent(verdict.fake_probability)} for every video: no detector carries weight in it"
    odds = " at even prior odds" if verdict.evidence is not None else ""
    band = f" (band {percent(verdict.band[0])}–{percent(verdict.band[1])})" if verdict.band else ""
    return f"{name}{odds} {percent(verdict.fake_probability)}{band}"


def provenance_text(view: AnalysisView) -> str:
    """A warning naming the models of this analysis trained on this very video; "" when none is known to be."""
    used = [d.name for d in view.detectors if d.fake_probability is not None]
    if not used:
        return ""
    cards = [c for c in list_installed() if c.name in used]
    trained_on = training_provenance.provenance(view.evidence.sha256, cards).trained_on
    if not trained_on:
        return ""
    return (f"Trained on this video: {', '.join(trained_on)} saw this file (same SHA-256) in training, so "
            "its score may be remembered rather than measured. Weigh it accordingly or analyse without it.")


class VerdictPanel(QWidget):
    """Shows a verdict; ``note_submitted(text, conclusion or None)`` when the analyst saves a finding."""

    note_submitted = Signal(str, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.headline = QLabel()
        self.headline.setObjectName("verdictHeadline")
        self.probability = QLabel()
        self.evidence = QLabel()
        self.evidence.setObjectName("verdictEvidence")
        self.provenance = QLabel()
        self.provenance.setObjectName("verdictTrainedOn")
        self.provenance.setStyleSheet("color: #b00020; font-weight: bold;")
        self.provenance.hide()
        self.warnings = QLabel()  # what the analysis recorded on the way: damaged frames, failed detectors, ...
        self.warnings.setObjectName("verdictWarnings")
        self.warnings.setStyleSheet("color: #b35c00;")
        self.warnings.hide()
        self.agreement = QLabel()
        self.explanation = QLabel()
        self.coverage_box = QGroupBox("What these models were validated on")
        self.coverage = QLabel()
        self.coverage.setObjectName("verdictCoverage")
        for label in (self.probability, self.evidence, self.provenance, self.warnings, self.agreement,
                      self.explanation, self.coverage):
            label.setWordWrap(True)
        self.detector_box = QGroupBox("Detectors")
        self.detector_form = QFormLayout(self.detector_box)
        self.bars: dict[str, QWidget] = {}
        self.notes_list = QListWidget()
        self.notes_list.setToolTip("Notes and conclusions saved for this video (audited)")
        self.notes_list.setMinimumHeight(60)
        self.notes_list.setMaximumHeight(140)
        self.note_edit = QTextEdit()
        self.note_edit.setPlaceholderText("Your note on this video…")
        self.note_edit.setMaximumHeight(70)
        self.conclusions = QButtonGroup(self)
        self.save_button = QPushButton("Save finding")
        self.save_button.setToolTip("Saved with your name and the time in the audit log")
        self.save_button.clicked.connect(self._submit)
        self._build()

    def _build(self) -> None:
        self.headline.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.probability.setStyleSheet("font-size: 11pt;")
        summary = QVBoxLayout()
        for widget in (self.headline, self.probability, self.provenance, self.warnings, self.evidence,
                       self.agreement, self.explanation):
            summary.addWidget(widget)
        QVBoxLayout(self.coverage_box).addWidget(self.coverage)
        choice = QHBoxLayout()
        for conclusion in CONCLUSIONS:
            button = QRadioButton(CONCLUSION_WORDS[conclusion])
            button.setProperty("conclusion", conclusion)
            button.setToolTip(f"Your own conclusion: {conclusion}")
            self.conclusions.addButton(button)
            choice.addWidget(button)
        finding = QGroupBox("Your finding")
        finding_layout = QVBoxLayout(finding)
        finding_layout.addLayout(choice)
        finding_layout.addWidget(self.note_edit)
        finding_layout.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)
        finding_layout.addWidget(self.notes_list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(summary)
        layout.addWidget(self.coverage_box)
        layout.addWidget(self.detector_box)
        layout.addWidget(finding)
        layout.addStretch(1)

    def show_analysis(self, view: AnalysisView) -> None:
        label = view.verdict.label if view.verdict else None
        self.headline.setText(verdict_headline(view))
        self.headline.setStyleSheet(f"font-size: 16pt; font-weight: bold; color: {verdict_colour(label).name()};")
        self.probability.setText(probability_text(view))
        self.provenance.setText(provenance_text(view))
        self.provenance.setVisible(bool(self.provenance.text()))
        self.warnings.setText("\n".join(f"Warning: {w}" for w in view.warnings))
        self.warnings.setVisible(bool(view.warnings))
        self.evidence.setText(evidence_text(view))
        self.coverage.setText(coverage_text(view))
        self.agreement.setText(f"Agreement: {view.verdict.agreement}" if view.verdict else view.error)
        self.explanation.setText(view.verdict.explanation if view.verdict else "")
        self._show_bars(detector_bars(view))
        self.show_notes(view.notes)

    def _show_bars(self, bars: list[DetectorBar]) -> None:
        while self.detector_form.rowCount():
            self.detector_form.removeRow(0)
        self.bars = {}
        for bar in bars:
            widget = _bar_widget(bar)
            self.detector_form.addRow(bar.name, widget)
            self.bars[bar.name] = widget

    def show_notes(self, notes: tuple[NoteView, ...]) -> None:
        """The saved findings; the list is hidden while there are none (its room goes to the verdict)."""
        self.notes_list.clear()
        self.notes_list.setVisible(bool(notes))
        for note in notes:
            conclusion = f"[{note.conclusion}] " if note.conclusion else ""
            when = note.created_at.strftime("%Y-%m-%d %H:%M")
            self.notes_list.addItem(f"{when} {note.author}: {conclusion}{note.text}")

    def chosen_conclusion(self) -> str | None:
        button = self.conclusions.checkedButton()
        return button.property("conclusion") if button else None

    def _submit(self) -> None:
        self.note_submitted.emit(self.note_edit.toPlainText(), self.chosen_conclusion())

    def clear_finding(self) -> None:
        self.note_edit.clear()
        self.conclusions.setExclusive(False)
        for button in self.conclusions.buttons():
            button.setChecked(False)
        self.conclusions.setExclusive(True)


def _bar_widget(bar: DetectorBar) -> QWidget:
    if bar.probability is None:
        label = QLabel(f"<i>{bar.status_text}</i>")
        label.setToolTip(bar.note or bar.status_text)
        return label
    widget = QProgressBar()
    widget.setRange(0, 1000)
    widget.setValue(round(bar.probability * 1000))
    widget.setFormat(percent(bar.probability))
    widget.setToolTip(f"{bar.name}: P(fake) {bar.probability:.3f}, decision threshold {bar.threshold:.2f}"
                      + (f"\n{bar.note}" if bar.note else ""))
    return widget
