"""Model manager (admin): installed models with their cards, which ones are enabled for the installation, import,
trainer, and the fitted ensemble's out-of-sample validation (members, AUC, Cllr, coverage, ECE and Tippett plots).

Imports and training run as the session's admin (:class:`~dfdesk.gui.settings.Analyst`, whose login the settings
dialog made): an import uses its grant and is audited in the open case database like ``dfdesk models import``
(:mod:`dfdesk.services.model_imports`); a refusal ends the job with one message.

A model installed here (imported or trained) starts *disabled* (:mod:`dfdesk.services.model_enablement`): analyses
leave it out until an admin selects it and presses "Enable…", which shows its validation figures, and any warning
about them, and asks to confirm.  Enabling and disabling are audited with the admin's name.  The enabled set is
the installation's, the same for the CLI and every analyst; the manager keeps no per-analyst choice."""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dfdesk.detectors import list_detectors
from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.metric_words import metric_words
from dfdesk.gui import dialogs
from dfdesk.gui.jobs import Job, JobQueue
from dfdesk.gui.settings import Analyst, AppSettings
from dfdesk.services import model_enablement, models
from dfdesk.services.ensemble_info import EnsembleInfo, ensemble_info
from dfdesk.services.model_enablement import EnablementError, ModelState, ValidationReview
from dfdesk.services.model_imports import import_audited
from dfdesk.store.database import Database

TRAINER_PACKAGE = "trainer"  # optional in a build: the wizard needs it
TRAINER_MISSING = ("The trainer is not part of this installation. Train on a machine that has it "
                   "(`dfdesk train …`), then import the model here.")
WEIGHTS_FILTER = "Weights (*.safetensors *.pt *.pth *.ckpt *.bin *.onnx);;All files (*)"
COLUMNS = ("Enabled", "Model", "Architecture", "Trained", "Threshold")
DISABLED_HINT = ("Models installed here start disabled. Select one and press Enable… to review its validation "
                 "figures; only enabled models take part in analyses, from the desktop and the command line.")
Confirm = Callable[[QWidget, ModelCard, ValidationReview], bool]


def card_html(card: ModelCard, state: ModelState | None = None) -> str:
    metrics = "".join(f"<li>{escape(metric_words(k))}: {escape(str(v))}</li>" for k, v in sorted(card.metrics.items()))
    metrics = metrics or "<li>none recorded</li>"
    enabled = [("Enabled", escape(("yes: " if state.enabled else "no: ") + state.reason))] if state else []
    rows = enabled + [("Version", card.version), ("Architecture", card.architecture),
            ("Trained", "yes" if card.trained else "no: needs training"), ("Threshold", f"{card.threshold:.3f}"),
            ("Training data", card.training_data or "—"), ("Licence", card.licence or "—"),
            ("Source", card.source or "—"), ("Weights SHA-256", f"<code>{card.weights_sha256 or '—'}</code>"),
            ("Input", f"{card.input.crop} {card.input.size}px, {card.input.frames_per_clip} frame(s), "
                      f"{card.input.colour}")]
    table = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
    # the facts and the measured figures first, the long description after them
    return (f"<h3>{card.name}</h3><table cellspacing='4'>{table}</table><p><b>Metrics</b></p><ul>{metrics}</ul>"
            f"<p>{card.description}</p>")


def ensemble_html(info: EnsembleInfo | None) -> str:
    """The fitted ensemble: what it was validated on and how it did, out of sample, with its two plots."""
    if info is None:
        return ("<h3>Fitted ensemble</h3><p>None installed: analyses use the plain mean of the models and give no "
                "likelihood ratio. Fit one on labelled videos with <code>dfdesk train --stacking</code>.</p>")
    if info.problem and not info.members and not info.metrics:
        return f"<h3>Fitted ensemble</h3><p>{escape(str(info.path))} cannot be used: {escape(info.problem)}</p>"
    m = info.metrics
    weights = ", ".join(f"{escape(n)} ({info.weights[n]:.3g})" for n in info.members) or (
        "none: no model ranked the validation videos better than chance, so every likelihood ratio is 1")
    members = "".join(f"<tr><td>{escape(n)}</td><td>{_figure(m.get('member_auc', {}).get(n))}</td>"
                      f"<td>{_figure(m.get('member_auc_leave_pair_out', {}).get(n))}</td></tr>" for n in info.models)
    bounds = (f"{info.lr_bounds[0]:.3g} to {info.lr_bounds[1]:.3g}" if info.lr_bounds else "—")
    coverage = escape(info.coverage.statement()) if info.coverage else "not measured"
    plots = "".join(f"<p><img src='{escape(path.as_uri())}' width='460'></p>" for path in info.figures.values())
    return (f"<h3>Fitted ensemble</h3><p>{escape(str(info.path))}, fitted {escape(info.created_at)}.</p>"
            f"<p><b>Members with weight</b>: {weights}.</p>"
            f"<p><b>Validation</b>: {info.validation_videos} labelled videos ({info.validation_fakes} manipulated, "
            f"{info.validation_videos - info.validation_fakes} not); {escape(info.protocol)}.</p>"
            f"<p><b>Out of sample</b>: ensemble AUC {_figure(m.get('ensemble_auc_leave_pair_out'))} (leave pair "
            f"out); Cllr {_figure(m.get('cllr'))}, Cllr-min {_figure(m.get('cllr_min'))}; LR bounds {bounds}.</p>"
            f"<table cellspacing='4'><tr><th>Model</th><th>AUC alone</th><th>AUC alone, same folds</th></tr>"
            f"{members}</table><p><b>Coverage</b>: {coverage}</p>{plots}"
            + (f"<p><i>{escape(info.problem)}</i></p>" if info.problem else ""))


def _figure(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class ModelManager(QDialog):
    def __init__(self, settings: AppSettings, jobs: JobQueue, parent: QWidget | None = None, *, db: Database,
                 analyst: Analyst, confirm: Confirm | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1120, 620)
        self.settings, self.jobs, self.db, self.analyst = settings, jobs, db, analyst
        self.confirm = confirm or confirm_enable
        self.cards: dict[str, ModelCard] = {}
        self.states: dict[str, ModelState] = {}
        self.import_job: Job | None = None
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.currentItemChanged.connect(lambda item, _old: self._show_card(item))
        self.details = QTextBrowser()
        self.ensemble = QTextBrowser()
        self.ensemble.setObjectName("ensembleValidation")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.details, "Model card")
        self.tabs.addTab(self.ensemble, "Ensemble validation")
        self.import_button = QPushButton("Import weights…")
        self.import_button.setToolTip("Install a weights file (safetensors, PyTorch checkpoint or ONNX) with a card")
        self.import_button.clicked.connect(self.ask_import)
        self.train_button = QPushButton("Train a model…")
        self._setup_trainer_button()
        self.enable_button = QPushButton("Enable…")
        self.enable_button.setToolTip("Review the selected model's validation figures and enable it for every "
                                      "analysis on this installation (audited)")
        self.enable_button.clicked.connect(self.ask_enable)
        self.disable_button = QPushButton("Disable")
        self.disable_button.setToolTip("Leave the selected model out of every analysis on this installation "
                                       "(audited)")
        self.disable_button.clicked.connect(self.disable_selected)
        self.hint = QLabel(DISABLED_HINT)
        self.hint.setWordWrap(True)
        self._build()
        self.refresh()

    def _setup_trainer_button(self) -> None:
        available = importlib.util.find_spec(TRAINER_PACKAGE) is not None
        self.train_button.setEnabled(available)
        self.train_button.setToolTip("Open the trainer wizard" if available else TRAINER_MISSING)
        if available:
            self.train_button.clicked.connect(self._open_trainer)

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.tabs)
        splitter.setSizes([640, 460])
        buttons = QHBoxLayout()
        for button in (self.enable_button, self.disable_button, self.import_button, self.train_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """Re-read the installed models and their states; the selection stays on the same model."""
        selected = self.selected_name()
        installed, untrained = models.list_installed(), models.untrained_cards()
        self.cards = {card.name: card for card in installed + untrained}
        self.states = model_enablement.model_states(installed)
        self.tree.clear()
        for card in installed + untrained:
            self.tree.addTopLevelItem(_item(card, self.states.get(card.name)))
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self.select(selected if selected in self.cards else next(iter(self.cards), None))
        self.ensemble.setHtml(ensemble_html(ensemble_info()))

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return item.text(1) if item else None

    def select(self, name: str | None) -> None:
        for i in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(i).text(1) == name:
                self.tree.setCurrentItem(self.tree.topLevelItem(i))

    def enabled_models(self) -> tuple[str, ...]:
        """Names the tree shows as enabled."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return tuple(item.text(1) for item in items if item.text(0) == "yes")

    def _show_card(self, item: QTreeWidgetItem | None) -> None:
        card = self.cards.get(item.text(1)) if item else None
        self.details.setHtml(card_html(card, self.states.get(card.name)) if card else "")
        state = self.states.get(card.name) if card else None
        self.enable_button.setEnabled(bool(card and card.trained and state and not state.enabled))
        self.disable_button.setEnabled(bool(state and state.enabled))

    def ask_enable(self) -> bool:
        """Show the selected model's validation figures; enable it when the admin confirms.  True when enabled."""
        card = self.cards.get(self.selected_name() or "")
        if card is None or not card.trained:
            return False
        if not self.confirm(self, card, model_enablement.validation_review(card)):
            return False
        return self._set_enabled(card, True)

    def disable_selected(self) -> bool:
        card = self.cards.get(self.selected_name() or "")
        return card is not None and self._set_enabled(card, False)

    def _set_enabled(self, card: ModelCard, enabled: bool) -> bool:
        grant = self.analyst.admin.grant if self.analyst.admin else None
        try:
            model_enablement.set_enabled(card, enabled, grant, self.db)
        except EnablementError as exc:
            dialogs.show_error(self, "Model not changed", str(exc))
            return False
        self.settings.enabled_models = None  # analyses follow the installation's enabled models
        self.refresh()
        return True

    def ask_import(self) -> None:
        form = ImportForm(self)
        if form.exec() == QDialog.DialogCode.Accepted:
            self.start_import(**form.values())

    def start_import(self, path: Path, architecture: str, name: str, licence: str, training_data: str,
                     threshold: float) -> Job:
        actor, grant = self.analyst.name, self.analyst.admin.grant if self.analyst.admin else None

        def run(ctx):
            yield from ()
            return import_audited(self.db, actor, grant, path, architecture, name, licence=licence,
                                  training_data=training_data, threshold=threshold)

        self.import_job = self.jobs.submit(f"Importing {Path(path).name} as {name}", run)
        self.import_button.setEnabled(False)
        self.import_job.failed.connect(lambda message: dialogs.show_error(self, "Import failed", message))
        self.import_job.finished.connect(self._import_finished)
        return self.import_job

    def _import_finished(self) -> None:
        self.import_job = None
        self.import_button.setEnabled(True)
        self.refresh()

    def _open_trainer(self) -> None:
        """The wizard trains in a separate process; a finished training installs a model, so re-read the list."""
        from dfdesk.gui.trainer_wizard import TrainerWizard  # the trainer (and PyTorch) load only when asked for

        wizard = TrainerWizard(self, analyst=self.analyst, db_path=self.db.path)
        wizard.finished.connect(lambda _result: self.refresh())
        wizard.open()


def _item(card: ModelCard, state: ModelState | None) -> QTreeWidgetItem:
    enabled = bool(state and state.enabled)
    item = QTreeWidgetItem(["yes" if enabled else "no", card.name, card.architecture,
                            "yes" if card.trained else "needs training", f"{card.threshold:.2f}"])
    if card.trained:
        item.setToolTip(0, state.reason if state else "")
        if not enabled:
            item.setForeground(0, item.foreground(0).color().darker(150))
    else:
        item.setToolTip(0, "Needs training: it never contributes a score")
        font = item.font(1)
        font.setItalic(True)
        for column in range(len(COLUMNS)):
            item.setFont(column, font)
            item.setToolTip(column, "Needs training: it never contributes a score")
    return item


class ImportForm(QDialog):
    """Which file, which architecture, under which name, with which licence and training data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import weights")
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.architecture = QComboBox()
        self.architecture.addItems(list_detectors())
        self.name = QLineEdit()
        self.name.setPlaceholderText("lower-case letters, digits, _ - .")
        self.licence, self.training_data = QLineEdit(), QLineEdit()
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.01, 0.99)
        self.threshold.setSingleStep(0.01)
        self.threshold.setValue(0.5)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("Weights file", row)
        form.addRow("Architecture", self.architecture)
        form.addRow("Name", self.name)
        form.addRow("Licence", self.licence)
        form.addRow("Training data", self.training_data)
        form.addRow("Decision threshold", self.threshold)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "", WEIGHTS_FILTER)
        if path:
            self.path.setText(path)

    def values(self) -> dict:
        return {"path": Path(self.path.text()), "architecture": self.architecture.currentText(),
                "name": self.name.text().strip(), "licence": self.licence.text().strip(),
                "training_data": self.training_data.text().strip(), "threshold": self.threshold.value()}


def review_html(card: ModelCard, review: ValidationReview) -> str:
    """The figures an admin confirms before enabling ``card``, warnings first."""
    warnings = "".join(f"<li><b>{escape(w)}</b></li>" for w in review.warnings)
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in review.figures)
    return (f"<h3>Enable {escape(card.name)}?</h3>"
            f"<p>Once enabled it takes part in every analysis on this installation (desktop, command line and "
            f"batches) until an admin disables it.</p>"
            + (f"<p>Warnings:</p><ul>{warnings}</ul>" if warnings else "")
            + f"<p><b>Validation figures recorded on its card</b></p><table cellspacing='4'>{rows}</table>"
            f"<p><b>Training data</b>: {escape(card.training_data or 'not recorded')}</p>")


class EnableDialog(QDialog):
    """The validation figures of one model, with "Enable" and "Cancel"."""

    def __init__(self, card: ModelCard, review: ValidationReview, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("enableModelDialog")
        self.setWindowTitle(f"Enable {card.name}")
        self.text = QTextBrowser()
        self.text.setHtml(review_html(card, review))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.enable_button = self.buttons.addButton("Enable", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)  # Enter does not enable
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.buttons)
        self.resize(560, 460)


def confirm_enable(parent: QWidget, card: ModelCard, review: ValidationReview) -> bool:
    return EnableDialog(card, review, parent).exec() == QDialog.DialogCode.Accepted
