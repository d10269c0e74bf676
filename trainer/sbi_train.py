"""``dfdesk train`` with ``pseudo_fakes = "sbi"``: a detector trained from real faces only on self-blended images.

The run (events as in :mod:`trainer.cli`, plus ``checkpoint``):

1. ``dataset``: the MANIFEST.csv folder's clips and photos, split by person (:mod:`trainer.sbi_faces`);
2. ``prepare``: the one-time extraction of face crops and 68 landmarks (skipped for files already extracted);
3. ``start``, then ``step`` events; ``last.pt`` is written every ``[sbi] checkpoint_minutes`` within an epoch
   (``checkpoint`` events) and at every epoch's end, so a killed run loses minutes, and ``--resume`` continues the
   very same sequence of updates (:class:`trainer.loop.Trainer`: model, optimiser, scheduler, RNG states and the
   position in the epoch's batch order; every sample's draws are seeded by (seed, epoch, pair));
4. ``eval`` / ``epoch`` after each whole epoch: pseudo-fake AUC on the held-out people's faces (frame and clip
   level, fixed pseudo-fakes and degradations), which picks ``best.pt`` and stops early (a stop by ``max_steps``
   within an epoch only saves ``last.pt``: validation belongs to epoch ends, so a stopped and resumed run
   validates exactly when a straight one does);
5. ``done``: the best weights' validation figures, written to ``summary.json`` beside the checkpoints (the model
   card is made from it by :mod:`trainer.ship_sbi`).

Each real face and its pseudo-fake share a batch, with the same degradation draw, as the paper pairs them.
One process only (no torchrun); a GPU is used when ``device`` is "auto" and one is present.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings, resolve_device
from dfdesk.detectors.base import InputSpec, crops_to_tensor
from dfdesk.detectors.cards import ModelCard
from trainer import metrics as m
from trainer.clips import EVAL_EPOCH, PSEUDO_SUFFIX
from trainer.config import ConfigError, TrainConfig, resolve_train_params
from trainer.degrade import NONE, DegradeConfig, degrade, sample_degrade
from trainer.evaluate import Predictions, predict
from trainer.loop import BEST_FILE, CHECKPOINT_FILE, Trainer, seed_everything
from trainer.sbi import self_blend
from trainer.sbi_faces import (
    TRAIN,
    VAL,
    FaceBank,
    SourceFile,
    describe,
    extract_all,
    faces_key,
    load_bank,
    read_manifest,
    split_people,
    write_index,
)

SUMMARY_FILE = "summary.json"
FACES_LINK = "faces_dir.txt"  # in the run folder: the face folder the run trains on, fixed at its first start


# --- samples -----------------------------------------------------------------------------------------------------


class SbiPairs(torch.utils.data.Dataset):
    """Sample ``2k`` is face ``k`` as it is (real, 0); sample ``2k + 1`` its self-blended pseudo-fake (1).

    Both draw the same degradation from the generator seeded by (seed, epoch, k); the pseudo-fake's blend draws
    follow.  Validation sets keep the fixed evaluation epoch, so their pseudo-fakes never change."""

    def __init__(self, bank: FaceBank, spec: InputSpec, *, degrade_config: DegradeConfig | None, seed: int = 0):
        self.bank, self.spec, self.degrade_config, self.seed = bank, spec, degrade_config, seed
        self.epoch = EVAL_EPOCH

    def __len__(self) -> int:
        return 2 * len(self.bank)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def targets(self) -> list[int]:
        return [i % 2 for i in range(len(self))]

    def videos(self) -> list[str]:
        return [self.bank.files[i // 2] + (PSEUDO_SUFFIX if i % 2 else "") for i in range(len(self))]

    def image(self, index: int) -> np.ndarray:
        """The uint8 RGB crop of sample ``index``, blended and degraded."""
        face, points = self.bank.crops[index // 2], self.bank.landmarks[index // 2]
        rng = np.random.default_rng([self.seed, self.epoch + 1, index // 2])
        params = sample_degrade(rng, self.degrade_config) if self.degrade_config is not None else NONE
        image = self_blend(face, points, rng).image if index % 2 else face
        return degrade(image, params)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return crops_to_tensor(self.image(index)[None], self.spec), index % 2


class PairedTrainer(Trainer):
    """:class:`Trainer` whose epoch order shuffles pairs (a face and its pseudo-fake stay side by side in a batch),
    whose batches may be made by a few threads, and whose checkpoints count the wall time spent training."""

    def __init__(self, *args, loader_threads: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        if self.params.batch_size % 2:
            raise ConfigError("[train] batch_size must be even: each face and its pseudo-fake share a batch")
        self.pool = ThreadPoolExecutor(loader_threads) if loader_threads > 1 else None
        self.wall_s = 0.0  # seconds of training before this process's current stretch
        self._since = time.monotonic()
        self.epoch_losses: list[float] = []  # losses of the current epoch's steps so far (kept across a resume)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        pairs = torch.randperm(len(self.data) // 2, generator=torch.Generator().manual_seed(self.seed + epoch))
        order = torch.stack([2 * pairs, 2 * pairs + 1], dim=1).flatten().tolist()
        size = self.params.batch_size
        return [order[k:k + size] for k in range(0, len(order), size)]

    def _load_batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        items = list(self.pool.map(self.data.__getitem__, indices)) if self.pool else [self.data[i] for i in indices]
        clips = torch.stack([x for x, _ in items]).to(self.device, non_blocking=True)
        return clips, torch.tensor([y for _, y in items], device=self.device)

    def training_seconds(self) -> float:
        return self.wall_s + time.monotonic() - self._since

    def checkpoint(self) -> dict:
        return {**super().checkpoint(), "wall_s": self.training_seconds(), "epoch_losses": list(self.epoch_losses)}

    def load(self, path: str | Path) -> None:
        super().load(path)
        saved = torch.load(path, map_location="cpu", weights_only=True)
        self.wall_s, self._since = float(saved.get("wall_s", 0.0)), time.monotonic()
        self.epoch_losses = list(saved.get("epoch_losses", []))


# --- validation --------------------------------------------------------------------------------------------------


def validation_metrics(predictions: Predictions) -> dict[str, float]:
    """Pseudo-fake AUC per frame and per clip (mean logit), and the mean BCE of the frames."""
    logits, targets = predictions.frame_logits, predictions.frame_targets
    loss = float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
    return {"val_frame_auc": m.roc_auc(targets, logits), "val_clip_auc": m.video_auc(
        predictions.videos, predictions.targets, predictions.clip_logits, "mean"), "val_loss": loss}


# --- the run -----------------------------------------------------------------------------------------------------


def sbi_dataset(config: TrainConfig) -> tuple[list[SourceFile], dict[str, str]]:
    files = read_manifest(config.data.root, photos=config.sbi.photos)
    return files, split_people(files, config.sbi.val_fraction, seed=config.data.split_seed)


def dataset_event(config: TrainConfig, files: list[SourceFile], split: dict[str, str]) -> dict:
    counts: dict[str, dict[str, int]] = {}
    for file in files:
        row = counts.setdefault(split[file.identity], {"clips": 0, "photos": 0})
        row["clips" if file.kind == "clip" else "photos"] += 1
    people = {s: len({f.identity for f in files if split[f.identity] == s and f.kind == "clip"}) for s in (TRAIN, VAL)}
    return {"event": "dataset", "kind": "sbi_manifest", "root": config.data.root, "videos": len(files),
            "counts_by_class": {"real": len(files), "fake": 0}, "counts_by_split": counts,
            "clip_people_by_split": people, "problems": []}


def sbi_dry_run_events(config: TrainConfig) -> Iterator[dict]:
    files, split = sbi_dataset(config)
    yield dataset_event(config, files, split)
    yield {"event": "done", "model": None, "dry_run": True}


def faces_folder(config: TrainConfig, spec: InputSpec) -> tuple[Path, CropSpec, FaceSettings]:
    """Where the faces of this crop, these face settings and this many frames per clip are kept."""
    crop = CropSpec.from_input(spec)
    settings = FaceSettings(detect_longest_side=config.data.face_longest_side, device=config.device)
    return Path(config.sbi.faces_dir) / faces_key(crop, settings, config.sbi.frames_per_clip), crop, settings


def run_faces_folder(config: TrainConfig, spec: InputSpec, out: Path,
                     resume: bool) -> tuple[Path, CropSpec, FaceSettings]:
    """The run's face folder: chosen at its first start and recorded in ``out``; a resumed run reads it back, so
    that a later change of dfdesk's face settings (new fields, new defaults) never swaps the faces under it."""
    folder, crop, settings = faces_folder(config, spec)
    link = out / FACES_LINK
    if resume and link.is_file():
        return Path(link.read_text(encoding="utf-8").strip()), crop, settings
    out.mkdir(parents=True, exist_ok=True)
    link.write_text(str(folder), encoding="utf-8")
    return folder, crop, settings


def sbi_train_events(config: TrainConfig, *, resume: bool = False,
                     cancel: Callable[[], bool] | None = None) -> Iterator[dict]:
    """The whole SBI run as events (see the module docstring)."""
    from trainer.cli import build_model, resume_run, write_run_config

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("pseudo_fakes = \"sbi\" trains in one process; run it without torchrun")
    device = _device(config)
    out = Path(config.checkpoint_dir)
    if not resume and (out / CHECKPOINT_FILE).is_file():
        raise ConfigError(f"{out} already holds a checkpoint: add --resume to continue it, or set a new "
                          "checkpoint_dir")
    seed_everything(config.seed)
    files, split = sbi_dataset(config)
    yield dataset_event(config, files, split)
    model, card = build_model(config)
    folder, crop, settings = run_faces_folder(config, card.input, out, resume)
    for progress in extract_all(files, folder, crop, config.sbi.frames_per_clip, settings, cancel):
        yield {"event": "prepare", "done": progress.done, "total": progress.total, "video": progress.file,
               "faces": progress.faces}
    if cancel is not None and cancel():
        return
    write_index(folder, files, split)
    train, val = _samples(config, card, files, split, folder)
    params = resolve_train_params(config.train, card.architecture)
    trainer = PairedTrainer(model, card, train, params, device=device, seed=config.seed,
                            loader_threads=loader_threads(config.sbi.loader_threads, device))
    resumed = resume_run(trainer, config, out) if resume else None
    write_run_config(config, out)
    yield _start_event(config, card, device, trainer, train, val, resumed, folder)
    yield from _epochs(trainer, val, out, config.sbi.checkpoint_minutes, cancel)
    if cancel is not None and cancel():
        return
    yield _finish(config, trainer, val, out, describe(files, split, folder))


def loader_threads(asked: int, device: torch.device) -> int:
    """0 means: one thread on a CPU (the model's threads use the cores), all cores but one beside a GPU."""
    if asked:
        return asked
    return max(1, (os.cpu_count() or 2) - 1) if device.type == "cuda" else 1


def _device(config: TrainConfig) -> torch.device:
    try:
        return resolve_device(config.device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _samples(config: TrainConfig, card: ModelCard, files, split, folder: Path) -> tuple[SbiPairs, SbiPairs]:
    train_files = [f for f in files if split[f.identity] == TRAIN]
    val_files = [f for f in files if split[f.identity] == VAL]
    degradations = DegradeConfig() if config.sbi.degrade else None
    train = SbiPairs(load_bank(train_files, folder), card.input, degrade_config=degradations, seed=config.seed)
    val = SbiPairs(load_bank(val_files, folder, per_file=config.sbi.val_faces_per_file), card.input,
                   degrade_config=degradations, seed=config.seed)
    return train, val


def _start_event(config, card, device, trainer: PairedTrainer, train: SbiPairs, val: SbiPairs, resumed,
                 folder: Path) -> dict:
    params = trainer.params
    return {"event": "start", "model": None, "architecture": card.architecture, "options": card.options,
            "input_size": card.input.size, "device": str(device), "amp": trainer.amp, "world_size": 1,
            "clips": {"train": len(train), "val": len(val)}, "faces": {"train": len(train.bank), "val": len(val.bank)},
            "faces_dir": str(folder), "steps_per_epoch": trainer.steps_per_epoch, "epochs": params.epochs,
            "batch_size": params.batch_size, "learning_rate": params.learning_rate,
            "weight_decay": params.weight_decay, "freeze_stages": params.freeze_stages,
            "grad_accumulation": params.grad_accumulation, "resumed_step": resumed, "problems": []}


def _epochs(trainer: PairedTrainer, val: SbiPairs, folder: Path, minutes: float, cancel) -> Iterator[dict]:
    params, state = trainer.params, trainer.state
    last_save = time.monotonic()
    while not trainer.finished:
        started, first_step = time.monotonic(), state.step
        for result in trainer.steps(cancel):
            trainer.epoch_losses.append(result.loss)
            rate = (state.step - first_step) * params.batch_size * params.grad_accumulation / max(
                time.monotonic() - started, 1e-9)
            yield {"event": "step", "epoch": result.epoch, "step": result.step, "loss": result.loss,
                   "lr": result.learning_rate, "samples_per_s": round(rate, 2)}
            if time.monotonic() - last_save >= minutes * 60:
                trainer.save(folder / CHECKPOINT_FILE)
                last_save = time.monotonic()
                yield {"event": "checkpoint", "epoch": state.epoch, "step": state.step,
                       "path": str(folder / CHECKPOINT_FILE), "wall_s": round(trainer.training_seconds(), 1)}
        if (cancel is not None and cancel()) or state.batch_in_epoch:  # cancelled, or max_steps within an epoch
            trainer.save(folder / CHECKPOINT_FILE)
            return
        epoch = state.epoch - 1
        found = validation_metrics(predict(trainer.model, trainer.card, val, trainer.device, params.batch_size))
        yield {"event": "eval", "epoch": epoch, "step": state.step, "split": "val", "metrics": found}
        loss = float(np.mean(trainer.epoch_losses)) if trainer.epoch_losses else None
        improved = _track_best(trainer, found, epoch, loss, folder)
        trainer.epoch_losses = []
        trainer.save(folder / CHECKPOINT_FILE)
        last_save = time.monotonic()
        yield {"event": "epoch", "epoch": epoch, "step": state.step, "loss": loss, "metrics": found,
               "best": improved, "wall_s": round(trainer.training_seconds(), 1)}
        if params.early_stopping_patience and state.stale_epochs >= params.early_stopping_patience:
            break


def _track_best(trainer: PairedTrainer, found: dict, epoch: int, loss: float | None, folder: Path) -> bool:
    """Model selection on the held-out people's pseudo-fake frame AUC."""
    state = trainer.state
    state.history.append({"epoch": epoch, "step": state.step, **found, "train_loss": loss,
                          "wall_s": round(trainer.training_seconds(), 1)})
    if found["val_frame_auc"] > state.best_metric:
        state.best_metric, state.best_epoch, state.stale_epochs = found["val_frame_auc"], epoch, 0
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(trainer.model.state_dict(), folder / BEST_FILE)
        return True
    state.stale_epochs += 1
    return False


def _finish(config: TrainConfig, trainer: PairedTrainer, val: SbiPairs, folder: Path, data: dict) -> dict:
    """Validation figures of the best weights, written to summary.json (what trainer.ship_sbi puts on the card)."""
    best = folder / BEST_FILE
    if best.is_file():
        trainer.model.load_state_dict(torch.load(best, map_location=trainer.device, weights_only=True))
    predictions = predict(trainer.model, trainer.card, val, trainer.device, trainer.params.batch_size)
    found = validation_metrics(predictions)
    eer, threshold = m.equal_error_rate(predictions.frame_targets, 1 / (1 + np.exp(-predictions.frame_logits)))
    card = trainer.card
    summary = {"metrics": {**found, "val_frame_eer": eer, "val_eer_threshold": threshold},
               "best_epoch": trainer.state.best_epoch, "steps": trainer.state.step,
               "wall_s": round(trainer.training_seconds(), 1), "history": trainer.state.history, "data": data,
               "config": config.to_dict(), "params": asdict(trainer.params),
               "card": {"architecture": card.architecture, "options": card.options, "input": asdict(card.input)}}
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return {"event": "done", "model": None, "model_dir": None, "metrics": summary["metrics"],
            "checkpoint_dir": str(folder), "summary": str(folder / SUMMARY_FILE)}
