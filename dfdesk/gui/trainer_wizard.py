"""The trainer wizard (administrators only): data set -> detector -> hyper-parameters -> run -> summary.

Training runs in a separate process, ``dfdesk train --config FILE --jsonl`` (a :class:`QProcess`), whose JSON
lines drive the live loss and validation-AUC curves; Cancel kills the process (GPU memory is freed with it).
The data page runs the same command with ``--dry-run`` to show counts per class and split and the problems found.
A successful run installs the model into the user models folder; the summary page says under which name.

The child runs as the session's admin: ``--profile NAME`` with the password in the DFDESK_PASSWORD environment
variable (never on its command line, where other users of the machine could read it), and ``--db`` naming the
case database the GUI has open, so that its login and ``train.start`` are audited there.
"""
from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QProcessEnvironment, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from dfdesk import paths
from dfdesk.detectors import list_detectors
from dfdesk.gui.settings import Analyst
from dfdesk.services.models import list_installed
from trainer.config import PSEUDO_FAKES, paper_defaults
from trainer.datasets import ADAPTERS

SPLITS = ("train", "val", "test", "unassigned")
PASSWORD_ENV = "DFDESK_PASSWORD"  # the acting profile's password, as `dfdesk train` reads it (dfdesk.cli.common)
PROFILE_ENV = "DFDESK_PROFILE"  # not passed on: the child acts as --profile, not as an inherited sign-in


def dfdesk_train_command() -> list[str]:
    """How to run ``dfdesk train``: the frozen executable itself, or ``python -m dfdesk``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "train"]
    return [sys.executable, "-m", "dfdesk", "train"]


class JsonLinesProcess(QProcess):
    """A QProcess that emits each JSON object its standard output prints, and the last stderr line."""

    event = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._buffer = b""
        self.error_line = ""
        self.saw_error = False
        self.readyReadStandardOutput.connect(self._read)
        self.readyReadStandardError.connect(self._read_error)

    def _read(self) -> None:
        self._buffer += bytes(self.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a stray non-JSON line (a library's warning) is not an event
            if isinstance(event, dict) and "event" in event:
                self.saw_error = self.saw_error or event["event"] == "error"
                self.event.emit(event)

    def _read_error(self) -> None:
        text = bytes(self.readAllStandardError()).decode(errors="replace").strip()
        if text:
            self.error_line = text.splitlines()[-1]


class DataPage(QWizardPage):
    def __init__(self, wizard: TrainerWizard):
        super().__init__()
        self.owner = wizard
        self.setTitle("Data set")
        self.setSubTitle("Pick the data set folder (or list file) and its layout, then check it.")
        self.folder = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.kind = QComboBox()
        self.kind.addItems(["auto", *ADAPTERS])
        self.pseudo_fakes = QComboBox()
        self.pseudo_fakes.addItems(PSEUDO_FAKES)
        self.check = QPushButton("Check data set")
        self.check.clicked.connect(self.run_check)
        self.status = QLabel("")
        self.counts = QTableWidget(0, 2)
        self.counts.setHorizontalHeaderLabels(["real", "fake"])
        self.problems = QListWidget()
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Layout", self.kind)
        form.addRow("Pseudo-fakes from real videos", self.pseudo_fakes)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check)
        layout.addWidget(self.status)
        layout.addWidget(self.counts)
        layout.addWidget(QLabel("Problems found"))
        layout.addWidget(self.problems)
        self.checked_settings: tuple | None = None
        self.folder.textChanged.connect(self.completeChanged)
        self.kind.currentTextChanged.connect(self.completeChanged)
        self.pseudo_fakes.currentTextChanged.connect(self.completeChanged)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data set folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def settings(self) -> tuple:
        return self.folder.text().strip(), self.kind.currentText(), self.pseudo_fakes.currentText()

    def run_check(self) -> None:
        self.checked_settings = None
        self.problems.clear()
        self.counts.setRowCount(0)
        self.status.setText("Checking…")
        self.owner.start_process(["--dry-run"], self._on_event, self._on_finished)

    def _on_event(self, event: dict) -> None:
        if event["event"] == "dataset":
            self._show_dataset(event)
        elif event["event"] == "error":
            self.status.setText(f"Not usable: {event['message']}")

    def _show_dataset(self, event: dict) -> None:
        table = event["counts_by_split"]
        splits = [s for s in SPLITS if s in table]
        self.counts.setRowCount(len(splits))
        self.counts.setVerticalHeaderLabels(splits)
        for r, split in enumerate(splits):
            for c, label in enumerate(("real", "fake")):
                self.counts.setItem(r, c, QTableWidgetItem(str(table[split][label])))
        for problem in event["problems"]:
            self.problems.addItem(f"{problem['kind']}: {problem['path']}: {problem['message']}")
        self.status.setText(f"{event['kind']} layout: {event['videos']} videos "
                            f"({event['counts_by_class']['real']} real, {event['counts_by_class']['fake']} fake)")

    def _on_finished(self, code: int) -> None:
        if code == 0:
            self.checked_settings = self.settings()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.checked_settings is not None and self.checked_settings == self.settings()


class DetectorPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Detector")
        self.setSubTitle("Fine-tune an installed model, or train an architecture from random weights.")
        self.choice = QComboBox()
        for card in list_installed():
            if card.trained and card.weights_format == "safetensors":
                self.choice.addItem(f"{card.name} (fine-tune, {card.architecture})", ("model", card.name,
                                                                                    card.architecture))
        for name in list_detectors():
            self.choice.addItem(f"{name} (random weights)", ("architecture", name, name))
        self.frames = QSpinBox()
        self.frames.setRange(0, 64)
        self.frames.setSpecialValueText("model default")
        self.max_clips = QSpinBox()
        self.max_clips.setRange(1, 64)
        self.max_clips.setValue(4)
        self.augment = QCheckBox("Augment training clips (flip, rotation, blur, colour, JPEG)")
        form = QFormLayout(self)
        form.addRow("Start from", self.choice)
        form.addRow("Frames per clip", self.frames)
        form.addRow("Clips per video (max)", self.max_clips)
        form.addRow(self.augment)

    def select(self, name: str) -> None:
        """Choose the entry for an installed model or architecture ``name``."""
        for i in range(self.choice.count()):
            if self.choice.itemData(i)[1] == name:
                self.choice.setCurrentIndex(i)
                return
        raise KeyError(name)

    def detector(self) -> dict:
        kind, name, _ = self.choice.currentData()
        out = {kind: name}
        if self.frames.value():
            out["input"] = {"frames_per_clip": self.frames.value()}
        return out

    def architecture(self) -> str:
        return self.choice.currentData()[2]


class ParamsPage(QWizardPage):
    def __init__(self, wizard: TrainerWizard):
        super().__init__()
        self.owner = wizard
        self.setTitle("Hyper-parameters")
        self.setSubTitle("Filled with the defaults of the detector's paper.")
        self.learning_rate = _float_box(1e-7, 1.0, 7)
        self.weight_decay = _float_box(0.0, 1.0, 7)
        self.batch_size, self.epochs = _int_box(1, 1024), _int_box(1, 1000)
        self.accumulation, self.patience = _int_box(1, 64), _int_box(0, 100)
        self.patience.setValue(5)
        self.freeze = QCheckBox("Freeze the backbone (train the head and adapters only)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        form = QFormLayout(self)
        for label, widget in (("Learning rate (Adam)", self.learning_rate), ("Weight decay", self.weight_decay),
                              ("Batch size", self.batch_size), ("Epochs", self.epochs),
                              ("Gradient accumulation", self.accumulation),
                              ("Early stopping patience (epochs, 0 = off)", self.patience), ("Device", self.device)):
            form.addRow(label, widget)
        form.addRow(self.freeze)

    def initializePage(self) -> None:
        defaults = paper_defaults(self.owner.detector_page.architecture())
        self.learning_rate.setValue(defaults["learning_rate"])
        self.weight_decay.setValue(defaults["weight_decay"])
        self.batch_size.setValue(defaults["batch_size"])
        self.epochs.setValue(defaults["epochs"])

    def train(self) -> dict:
        return {"learning_rate": self.learning_rate.value(), "weight_decay": self.weight_decay.value(),
                "batch_size": self.batch_size.value(), "epochs": self.epochs.value(),
                "grad_accumulation": self.accumulation.value(), "early_stopping_patience": self.patience.value(),
                "freeze_backbone": self.freeze.isChecked()}


class RunPage(QWizardPage):
    def __init__(self, wizard: TrainerWizard):
        super().__init__()
        self.owner = wizard
        self.setTitle("Training")
        self.setSubTitle("Runs as a separate process; Cancel stops it at once.")
        self.start = QPushButton("Start training")
        self.cancel = QPushButton("Cancel training")
        self.cancel.setEnabled(False)
        self.start.clicked.connect(self.run)
        self.cancel.clicked.connect(self.stop)
        self.status = QLabel("Not started")
        self.loss_plot = pg.PlotWidget(title="training loss")
        self.auc_plot = pg.PlotWidget(title="validation video AUC")
        self.loss_curve = self.loss_plot.plot([], [], pen="c")
        self.auc_curve = self.auc_plot.plot([], [], pen="y", symbol="o")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.cancel)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.auc_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addLayout(plots)
        layout.addWidget(self.log)
        self.steps, self.losses, self.epochs, self.aucs = [], [], [], []
        self.result: dict | None = None

    def run(self) -> None:
        self.steps, self.losses, self.epochs, self.aucs, self.result = [], [], [], [], None
        self.start.setEnabled(False)
        self.cancel.setEnabled(True)
        self.status.setText("Preparing face clips…")
        self.owner.start_process([], self._on_event, self._on_finished)

    def stop(self) -> None:
        self.owner.kill_process()
        self.status.setText("Cancelled")

    def _on_event(self, event: dict) -> None:
        kind = event["event"]
        if kind == "step":
            self.steps.append(event["step"])
            self.losses.append(event["loss"])
            self.loss_curve.setData(self.steps, self.losses)
            eta = f", about {event['eta_s']:.0f} s left" if event.get("eta_s") is not None else ""
            self.status.setText(f"Epoch {event['epoch'] + 1}, step {event['step']}, loss {event['loss']:.4f}{eta}")
        elif kind == "eval" and event["split"] == "val":
            self.epochs.append(event["step"])
            self.aucs.append(event["metrics"]["video_auc"])
            self.auc_curve.setData(self.epochs, self.aucs)
        elif kind == "prepare":
            self.status.setText(f"Preparing face clips: video {event['done']} of {event['total']}")
        elif kind == "done":
            self.result = event
        elif kind == "error":
            self.status.setText(f"Failed: {event['message']}")
        if kind not in ("step", "prepare"):
            self.log.appendPlainText(json.dumps(event))

    def _on_finished(self, code: int) -> None:
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)
        if code == 0 and self.result is not None:
            self.status.setText("Finished")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.result is not None


class SummaryPage(QWizardPage):
    def __init__(self, wizard: TrainerWizard):
        super().__init__()
        self.owner = wizard
        self.setTitle("Evaluation")
        self.setSubTitle("Threshold and calibration chosen on validation; metrics measured on test.")
        self.installed = QLabel("")
        self.installed.setWordWrap(True)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["metric", "value"])
        layout = QVBoxLayout(self)
        layout.addWidget(self.installed)
        layout.addWidget(self.table)

    def initializePage(self) -> None:
        result = self.owner.run_page.result or {}
        metrics = result.get("metrics", {})
        self.table.setRowCount(len(metrics))
        for row, (name, value) in enumerate(metrics.items()):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(_format(value)))
        if result.get("model"):
            self.installed.setText(f"Installed as model '{result['model']}' in {result['model_dir']}; "
                                   "it appears in the model manager.")
        else:
            self.installed.setText("The model was not installed.")


class TrainerWizard(QWizard):
    """``TrainerWizard(parent, analyst=ADMIN, db_path=CASES)``; an analyst who is not an admin raises
    PermissionError.

    ``program`` replaces the ``dfdesk train`` command line (it must take the same options); ``extra`` adds settings
    the pages do not show (for example ``{"eval": {"bootstrap": 200}, "cache_dir": ...}``), merged into the
    generated configuration.
    """

    process_finished = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, analyst: Analyst, db_path: str | Path | None = None,
                 program: list[str] | None = None, extra: dict | None = None):
        if not analyst.is_admin:
            raise PermissionError("only an administrator profile may train models")
        super().__init__(parent)
        self.setWindowTitle("Train a detector")
        self.analyst, self.db_path = analyst, db_path
        self.program = program or dfdesk_train_command()
        self.extra = extra or {}
        self.folder = Path(tempfile.mkdtemp(prefix="train-", dir=paths.user_data_dir()))
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.process: JsonLinesProcess | None = None
        self.data_page, self.detector_page = DataPage(self), DetectorPage()
        self.params_page, self.run_page, self.summary_page = ParamsPage(self), RunPage(self), SummaryPage(self)
        for page in (self.data_page, self.detector_page, self.params_page, self.run_page, self.summary_page):
            self.addPage(page)

    def config(self) -> dict:
        folder, kind, pseudo = self.data_page.settings()
        config = {
            "device": self.params_page.device.currentText(),
            "checkpoint_dir": str(paths.user_data_dir() / "training" / self.stamp),
            "data": {"kind": kind, "root": folder, "pseudo_fakes": pseudo,
                     "augment": self.detector_page.augment.isChecked(),
                     "max_clips_per_video": self.detector_page.max_clips.value()},
            "detector": self.detector_page.detector(),
            "train": self.params_page.train(),
        }
        return _merge(config, self.extra)

    def write_config(self) -> Path:
        path = self.folder / "train.json"
        path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        return path

    def start_process(self, flags: list[str], on_event, on_finished) -> None:
        self.kill_process()
        process = JsonLinesProcess(self)
        process.event.connect(on_event)
        process.finished.connect(lambda code, _status: self._finished(process, code, on_event, on_finished))
        process.setProcessEnvironment(self.child_environment())
        self.process = process
        process.start(self.program[0], [*self.program[1:], "--config", str(self.write_config()), "--jsonl",
                                        *self.identity_arguments(), *flags])

    def identity_arguments(self) -> list[str]:
        """``--db`` (the GUI's case database) and ``--profile`` (the logged-in admin, when there is a profile)."""
        arguments = ["--db", str(self.db_path)] if self.db_path else []
        session = self.analyst.admin
        return arguments + (["--profile", session.profile] if session and session.profile else [])

    def child_environment(self) -> QProcessEnvironment:
        """This process's environment, with this process's data folder (its models and caches), the admin's
        password for ``--profile`` and no inherited sign-in."""
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert(paths.DATA_DIR_ENV, str(paths.user_data_dir()))
        environment.remove(PROFILE_ENV)
        environment.remove(PASSWORD_ENV)
        session = self.analyst.admin
        if session and session.profile:
            environment.insert(PASSWORD_ENV, session.password)
        return environment

    def _finished(self, process: JsonLinesProcess, code: int, on_event, on_finished) -> None:
        process._read()
        crashed = process.exitStatus() != QProcess.ExitStatus.NormalExit
        if code != 0 and not process.saw_error and not crashed:
            on_event({"event": "error", "message": process.error_line.removeprefix("dfdesk: error: ")
                      or f"dfdesk train ended with exit status {code}"})
        on_finished(code)
        self.process_finished.emit(code)

    def kill_process(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(5000)

    def done(self, result: int) -> None:
        self.kill_process()
        super().done(result)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _float_box(low: float, high: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(10 ** -(decimals - 2))
    return box


def _int_box(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    return box


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)
