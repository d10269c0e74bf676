"""``dfdesk train``: load a config, prepare face clips, train, evaluate, install; report as events.

``train_events(config)`` is a generator of plain dicts (one per JSON line with ``--jsonl``):

* ``dataset`` kind, counts by class and split, problems (first, also in a dry run)
* ``start``   model, architecture, device, clip counts, steps per epoch, epochs, resumed step
* ``prepare`` face extraction progress (done, total, video)
* ``step``    epoch, step, loss, lr, eta_s
* ``eval``    epoch, step, split "val", metrics {video_auc}
* ``epoch``   epoch, step, loss (mean over the epoch), metrics, best, eta_s
* ``done``    model (installed name or null), model_dir, metrics (the card's table), checkpoint_dir
* ``error``   message (also printed on stderr; the exit status is non-zero)

``--stacking`` (:mod:`trainer.stacking`) prints ``dataset``, ``score`` (done, total, video), ``eval`` (AUC per
split of the stacked score, each model and the mean) and ``done`` (stacking file, weights, bias, models, metrics).

``--dry-run`` only loads and splits the data set: a ``dataset`` event (kind, counts by class and split,
problems), then ``done`` or ``error``.  Run as ``dfdesk train`` or ``python -m trainer.cli``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import torch

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.faces import FaceSettings, resolve_device
from dfdesk.core.pipeline import Cancelled
from dfdesk.detectors.base import InputSpec
from dfdesk.detectors.cards import CardError, ModelCard
from dfdesk.detectors.registry import build_detector, create_detector, detector_class
from dfdesk.detectors.weights import WeightsError
from trainer.augment import AugmentConfig
from trainer.clips import (
    ClipSamples,
    DataError,
    ExtractProgress,
    FaceClip,
    build_samples,
    check_classes,
    extract_clips,
    load_split_records,
)
from trainer.config import (
    SBI,
    ConfigError,
    DataConfig,
    DetectorConfig,
    TrainConfig,
    load_config,
    resolve_train_params,
)
from trainer.datasets import DatasetError
from trainer.evaluate import evaluate, predict, video_auc
from trainer.install import (
    InstallError,
    find_installed_card,
    install_trained,
    training_file_entries,
    unique_name,
)
from trainer.loop import (
    BEST_FILE,
    CHECKPOINT_FILE,
    Distributed,
    Trainer,
    barrier,
    close_distributed,
    distributed_from_env,
    launched_rank,
    rank_zero_decides,
    seed_everything,
)
from trainer.metrics import MetricError
from trainer.sbi_faces import SbiDataError
from trainer.splits import SplitError
from trainer.stacking import default_config, stacking_events

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
EXPECTED_ERRORS = (ConfigError, DatasetError, SplitError, DataError, InstallError, CardError, WeightsError,
                   MetricError, SbiDataError)
RUN_CONFIG = "config.json"
IGNORED_ON_RESUME = ("max_steps", "install", "name", "stacking")
IGNORED_SBI_ON_RESUME = ("checkpoint_minutes", "loader_threads")  # pace and threads: no effect on the updates


# --- model --------------------------------------------------------------------------------------------------------


def input_with(spec: InputSpec, overrides: dict) -> InputSpec:
    unknown = sorted(set(overrides) - set(asdict(spec)))
    if unknown:
        raise ConfigError(f"unknown [detector.input] setting(s): {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return replace(spec, **values)


def build_model(config: TrainConfig) -> tuple[torch.nn.Module, ModelCard]:
    """The detector to train and the card it will be installed with (installed weights, or random init)."""
    detector = config.detector
    if detector.model:
        card = find_installed_card(detector.model)
        if not card.trained or card.weights_format != "safetensors":
            raise ConfigError(f"model {card.name!r} has no PyTorch weights to fine-tune; name its architecture")
        card = replace(card, input=input_with(card.input, detector.input), metrics={})
        return create_detector(card, "cpu").train(), card
    try:
        cls = detector_class(detector.architecture)
        model = build_detector(detector.architecture, **detector.options)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[detector] options do not fit {detector.architecture!r}: {exc}") from None
    card = ModelCard(name=detector.architecture, architecture=detector.architecture, options=dict(detector.options),
                     input=input_with(cls.default_input(), detector.input), output_kind=cls.output_kind,
                     fake_index=cls.default_fake_index, sigmoid_means="fake", trained=False,
                     description=(cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "")
    if detector.init == "imagenet":
        initialise_from_imagenet(model, detector.architecture)
    return model.train(), card


def initialise_from_imagenet(model: torch.nn.Module, architecture: str) -> dict:
    """Set the backbone from the ImageNet weights the architecture knows how to read (a file of an installed
    package: training only; the analysis loads a model card's weights)."""
    load = getattr(model, "load_imagenet_backbone", None)
    if load is None:
        raise ConfigError(f"{architecture} has no ImageNet weights to start from ([detector] init)")
    try:
        return load()
    except RuntimeError as exc:  # the package is missing, or its file does not fit
        raise ConfigError(str(exc)) from None


# --- data ---------------------------------------------------------------------------------------------------------


def dataset_event(config: TrainConfig) -> tuple[dict, list]:
    report, records = load_split_records(config.data, config.seed)
    by_split: dict[str, dict[str, int]] = {}
    for record in records:
        row = by_split.setdefault(record.split, {"real": 0, "fake": 0})
        row[record.label] += 1
    event = {"event": "dataset", "kind": report.kind, "root": str(report.root), "videos": len(records),
             "counts_by_class": report.counts_by_class(), "counts_by_split": by_split,
             "official_splits": report.counts_by_split(),
             "problems": [{"kind": p.kind, "message": p.message, "path": p.path} for p in report.problems]}
    return event, records


def prepare_clips(config: TrainConfig, records: list, card: ModelCard, problems: list,
                  cancel: Callable[[], bool] | None,
                  dist: Distributed = Distributed()) -> Iterator[dict | list[FaceClip]]:
    """Yield ``prepare`` events, then the list of clips.

    Under DDP each rank first detects the faces of its share of the videos into the shared crop cache (the
    ``prepare`` events count that share); after a barrier every rank reads all clips back from the cache.
    """
    settings = FaceSettings(detect_longest_side=config.data.face_longest_side, device=config.device)
    cache = CropCache(Path(config.cache_dir) if config.cache_dir else paths.cache_dir() / "crops")
    frame_level = detector_class(card.architecture).frame_level
    extract = partial(extract_clips, spec=card.input, max_clips=config.data.max_clips_per_video, settings=settings,
                      cache=cache, seed=config.seed, cancel=cancel, frame_level=frame_level)
    if dist.world > 1:
        for item in extract(records[dist.rank::dist.world], problems=[]):
            if isinstance(item, ExtractProgress):
                yield _prepare_event(item)
        barrier(dist)
    clips: list[FaceClip] = []
    for item in extract(records, problems=problems):
        if isinstance(item, ExtractProgress):
            if dist.world <= 1:
                yield _prepare_event(item)
        else:
            clips.append(item)
    if not clips:
        raise DataError("no face clip could be cut from any video (no faces found, or unreadable files)")
    check_classes(clips, config.data.pseudo_fakes, what="face clips")
    yield clips


def _prepare_event(progress: ExtractProgress) -> dict:
    return {"event": "prepare", "done": progress.done, "total": progress.total, "video": progress.video}


def split_samples(config: TrainConfig, clips: list[FaceClip], spec: InputSpec) -> dict[str, ClipSamples]:
    data = config.data
    if data.pseudo_fakes != "none" and (spec.crop != "face" or spec.colour != "rgb"):
        raise ConfigError("pseudo-fakes need RGB face crops; this detector reads "
                          f"{spec.colour} {spec.crop} crops")
    out = {}
    for split in ("train", "val", "test"):
        part = [c for c in clips if c.split == split]
        augment = AugmentConfig() if data.augment and split == "train" else None
        out[split] = ClipSamples(part, build_samples(part, data.pseudo_fakes), spec, pseudo_fakes=data.pseudo_fakes,
                                 augment=augment, seed=config.seed)
    return out


# --- the run ------------------------------------------------------------------------------------------------------


def train_events(config: TrainConfig, *, resume: bool = False,
                 cancel: Callable[[], bool] | None = None) -> Iterator[dict]:
    """The whole run as events; raises one of :data:`EXPECTED_ERRORS` on bad data or settings."""
    if config.data.pseudo_fakes == SBI:
        from trainer.sbi_train import sbi_train_events

        yield from sbi_train_events(config, resume=resume, cancel=cancel)
        return
    device = _device(config)
    dist = distributed_from_env(device)
    if dist.world > 1 and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    seed_everything(config.seed)
    event, records = dataset_event(config)
    yield event
    check_classes(records, config.data.pseudo_fakes)
    model, card = build_model(config)
    problems: list = []
    clips = None
    for item in prepare_clips(config, records, card, problems, cancel, dist):
        if isinstance(item, dict):
            yield item
        else:
            clips = item
    data = split_samples(config, clips, card.input)
    params = resolve_train_params(config.train, card.architecture)
    trainer = Trainer(model, card, data["train"], params, device=device, seed=config.seed, dist=dist)
    folder = Path(config.checkpoint_dir)
    resumed = resume_run(trainer, config, folder) if resume else None
    if dist.main:
        write_run_config(config, folder)
    yield _start_event(config, card, device, data, trainer, resumed, problems)
    yield from _epochs(trainer, data["val"], folder, cancel, dist)
    if cancel is not None and cancel():
        return
    if dist.main:
        yield from _finish(config, trainer, card, data, folder, records, params)


def _device(config: TrainConfig) -> torch.device:
    try:
        return resolve_device(config.device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _start_event(config, card, device, data, trainer: Trainer, resumed, problems) -> dict:
    params = trainer.params
    return {"event": "start", "model": config.detector.model or None, "architecture": card.architecture,
            "device": str(device), "amp": trainer.amp, "world_size": trainer.dist.world,
            "clips": {s: len(d) for s, d in data.items()}, "steps_per_epoch": trainer.steps_per_epoch,
            "epochs": params.epochs, "batch_size": params.batch_size, "learning_rate": params.learning_rate,
            "weight_decay": params.weight_decay, "grad_accumulation": params.grad_accumulation,
            "resumed_step": resumed, "problems": [asdict(p) for p in problems]}


def _epochs(trainer: Trainer, val: ClipSamples, folder: Path, cancel, dist: Distributed) -> Iterator[dict]:
    clock = _Eta(trainer)
    params, state = trainer.params, trainer.state
    while not trainer.finished:
        losses = []
        for result in trainer.steps(cancel):
            losses.append(result.loss)
            yield {"event": "step", "epoch": result.epoch, "step": result.step, "loss": result.loss,
                   "lr": result.learning_rate, "eta_s": clock.eta()}
        if cancel is not None and cancel():
            if dist.main:
                trainer.save(folder / CHECKPOINT_FILE)
            return
        epoch = state.epoch if state.batch_in_epoch else state.epoch - 1
        stop = False
        if dist.main:
            auc = video_auc(predict(trainer.model, trainer.card, val, trainer.device, params.batch_size))
            yield {"event": "eval", "epoch": epoch, "step": state.step, "split": "val",
                   "metrics": {"video_auc": auc}}
            improved = _track_best(trainer, auc, epoch, folder)
            trainer.save(folder / CHECKPOINT_FILE)
            yield {"event": "epoch", "epoch": epoch, "step": state.step,
                   "loss": sum(losses) / len(losses) if losses else None, "metrics": {"val_video_auc": auc},
                   "best": improved, "eta_s": clock.eta()}
            stop = bool(params.early_stopping_patience) and state.stale_epochs >= params.early_stopping_patience
        if rank_zero_decides(stop, dist, trainer.device):  # the other ranks wait here while rank 0 evaluates
            break


def _track_best(trainer: Trainer, auc: float, epoch: int, folder: Path) -> bool:
    state = trainer.state
    state.history.append({"epoch": epoch, "step": state.step, "val_video_auc": auc})
    if auc > state.best_metric:
        state.best_metric, state.best_epoch, state.stale_epochs = auc, epoch, 0
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(trainer.model.state_dict(), folder / BEST_FILE)
        return True
    state.stale_epochs += 1
    return False


class _Eta:
    """Seconds left, from the mean time per optimizer step taken in this process."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.start, self.first = trainer, time.monotonic(), trainer.state.step

    def eta(self) -> float | None:
        t = self.trainer
        done = t.state.step - self.first
        if done <= 0:
            return None
        total = t.steps_per_epoch * t.params.epochs
        if t.params.max_steps:
            total = min(total, t.params.max_steps)
        return round((time.monotonic() - self.start) / done * max(total - t.state.step, 0), 1)


def _finish(config, trainer: Trainer, card: ModelCard, data, folder: Path, records, params) -> Iterator[dict]:
    best = folder / BEST_FILE
    if best.is_file():
        trainer.model.load_state_dict(torch.load(best, map_location=trainer.device, weights_only=True))
    val = predict(trainer.model, card, data["val"], trainer.device, params.batch_size)
    test = predict(trainer.model, card, data["test"], trainer.device, params.batch_size)
    ev = config.eval
    result = evaluate(val, test, calibration=ev.calibration, threshold=ev.threshold, bootstrap=ev.bootstrap,
                      confidence=ev.confidence, seed=config.seed)
    metrics = {**result.metrics, "best_epoch": trainer.state.best_epoch, "steps": trainer.state.step}
    yield {"event": "eval", "epoch": trainer.state.best_epoch, "step": trainer.state.step, "split": "test",
           "metrics": metrics}
    installed = None
    if config.install:
        name = config.name or unique_name(config.detector.model or card.architecture)
        installed = install_trained(trainer.model.state_dict(), card, name=name, threshold=result.threshold,
                                    calibration=result.calibration, metrics=metrics,
                                    training_data=describe_training_data(config, records, data, params),
                                    training_files=training_file_entries(fitted_files(records)))
    yield {"event": "done", "model": installed.name if installed else None,
           "model_dir": str(installed.path) if installed else None, "metrics": metrics,
           "threshold": result.threshold, "calibration": asdict(result.calibration), "checkpoint_dir": str(folder)}


def fitted_files(records) -> list[tuple[Path, str | None]]:
    """The files the weights, threshold or calibration were fitted on (train and validation splits): a model
    scoring one of them may remember it.  Test files are held out and not listed."""
    return [(Path(r.path), r.split) for r in records if r.split in ("train", "val")]


def describe_training_data(config: TrainConfig, records, data: dict[str, ClipSamples], params) -> str:
    """One paragraph for the model card: data set, counts per split and class, pseudo-fakes, settings."""
    counts = []
    for split in ("train", "val", "test"):
        videos = [r for r in records if r.split == split]
        fakes = sum(r.target for r in videos)
        pseudo = sum(s.pseudo_fake for s in data[split].samples)
        counts.append(f"{split} {len(videos)} videos ({len(videos) - fakes} real, {fakes} fake; "
                      f"{len(data[split])} clips, {pseudo} pseudo-fake)")
    d = config.data
    pseudo = {"none": "none", "self_blend": "self-blended images (per frame)",
              "video_blend": "video-level self-blending (one blend per clip, StA)"}[d.pseudo_fakes]
    start = f"fine-tuned from {config.detector.model}" if config.detector.model else "trained from random weights"
    return (f"{start} on {d.kind} data at {d.root}: " + "; ".join(counts) +
            f". Split by {d.split_by} without leakage (ratios {list(d.split_ratios)}, seed {d.split_seed}). "
            f"Pseudo-fakes: {pseudo}. Augmentations: {'on' if d.augment else 'off'}. "
            f"At most {d.max_clips_per_video} clips per video. Optimizer {params.optimizer} lr {params.learning_rate} "
            f"weight decay {params.weight_decay}, batch {params.batch_size} x {params.grad_accumulation}, "
            f"{params.epochs} epochs, seed {config.seed}.")


def _comparable(doc: dict) -> dict:
    """A config document without the settings that may change between a run and its resumption, as JSON."""
    doc = json.loads(json.dumps(doc))
    for key in IGNORED_ON_RESUME:
        doc.pop(key, None)
        doc.get("train", {}).pop(key, None)
    for key in IGNORED_SBI_ON_RESUME:
        doc.get("sbi", {}).pop(key, None)
    return doc


def _default_settings() -> dict:
    return json.loads(json.dumps(TrainConfig(data=DataConfig(), detector=DetectorConfig()).to_dict()))


def same_settings(saved: dict, current: dict, defaults: dict) -> bool:
    """True when ``current`` trains as ``saved`` did.  A setting added to dfdesk after the run started is absent
    from ``saved``; it matches when ``current`` leaves it at its default (what the run implicitly used)."""
    for key in set(saved) | set(current):
        if key not in current:
            return False
        if key not in saved:
            if current[key] != defaults.get(key):
                return False
        elif isinstance(saved[key], dict) and isinstance(current[key], dict) and isinstance(defaults.get(key), dict):
            if not same_settings(saved[key], current[key], defaults[key]):
                return False
        elif saved[key] != current[key]:
            return False
    return True


def write_run_config(config: TrainConfig, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{RUN_CONFIG}.tmp"  # other ranks may be reading the previous one (--resume)
    temporary.write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    os.replace(temporary, folder / RUN_CONFIG)


def resume_run(trainer: Trainer, config: TrainConfig, folder: Path) -> int:
    checkpoint = folder / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise ConfigError(f"nothing to resume: no checkpoint at {checkpoint}")
    saved = folder / RUN_CONFIG
    if saved.is_file():
        before = _comparable(json.loads(saved.read_text(encoding="utf-8")))
        if not same_settings(before, _comparable(config.to_dict()), _default_settings()):
            raise ConfigError(f"the checkpoint in {folder} was made with different settings; "
                              "use a new checkpoint_dir or the same configuration")
    trainer.load(checkpoint)
    return trainer.state.step


# --- command line -------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="training settings (TOML or JSON); required except with --stacking, whose default "
                             "fits on the labelled clips of ../shared/data")
    parser.add_argument("--jsonl", action="store_true", help="print one JSON object per line (the GUI reads them)")
    parser.add_argument("--dry-run", action="store_true", help="only load the data set and report counts and problems")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in checkpoint_dir")
    parser.add_argument("--stacking", action="store_true",
                        help="fit the ensemble's logistic stacking of installed models on the validation split "
                             "(writes stacking.json into the user models folder)")


def run(args: argparse.Namespace, observe: Callable[[dict], None] | None = None) -> int:
    """Under torchrun only rank 0 prints events; another rank's error goes to stderr, marked with its rank.
    ``observe`` also sees every event rank 0 prints (``dfdesk train`` audits the result with it)."""
    rank = launched_rank()
    printer = (_json_line if args.jsonl else _human_line) if rank == 0 else _silent
    emit = printer if observe is None else (lambda event: (observe(event), printer(event)))
    fail = partial(_fail, emit, prefix=f"rank {rank}: " if rank else "")
    try:
        stacking = bool(getattr(args, "stacking", False))
        config = _config(args.config, stacking)
        if stacking:
            events = stacking_events(config, dry_run=args.dry_run)
        else:
            events = dry_run_events(config) if args.dry_run else train_events(config, resume=args.resume)
        for event in events:
            emit(event)
        return EXIT_OK
    except EXPECTED_ERRORS as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except Cancelled:
        return fail("cancelled", EXIT_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_FAILURE)
    except (RuntimeError, OSError) as exc:  # out of memory, disk full, a broken file mid-run
        return fail(f"training failed: {str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__}",
                    EXIT_FAILURE)
    finally:
        close_distributed()


def _config(path: Path | None, stacking: bool) -> TrainConfig:
    """The settings file, or for ``--stacking`` without one the default fit (:func:`trainer.stacking.default_config`);
    ConfigError when training is asked for without a file."""
    if path is not None:
        return load_config(path, stacking=stacking)
    if stacking:
        return default_config()
    raise ConfigError("--config FILE is required (only --stacking has a default: the labelled clips of "
                      "../shared/data)")


def dry_run_events(config: TrainConfig) -> Iterator[dict]:
    if config.data.pseudo_fakes == SBI:
        from trainer.sbi_train import sbi_dry_run_events

        yield from sbi_dry_run_events(config)
        return
    event, records = dataset_event(config)
    yield event
    check_classes(records, config.data.pseudo_fakes)
    yield {"event": "done", "model": None, "dry_run": True}


def _fail(emit, message: str, code: int, prefix: str = "") -> int:
    emit({"event": "error", "message": message})
    print(f"dfdesk: error: {prefix}{message}", file=sys.stderr)
    return code


def _silent(_event: dict) -> None:
    """Ranks other than 0 print no events."""


def _json_line(event: dict) -> None:
    print(json.dumps(event, default=_plain), flush=True)


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _human_line(event: dict) -> None:
    kind = event["event"]
    if kind == "error":
        return
    if kind == "step":
        print(f"epoch {event['epoch']} step {event['step']} loss {event['loss']:.4f}", flush=True)
    elif kind == "dataset":
        print(f"{event['kind']} data set, {event['videos']} videos: by class {event['counts_by_class']}, "
              f"by split {event['counts_by_split']}, {len(event['problems'])} problem(s)")
        for problem in event["problems"]:
            print(f"  {problem['kind']}: {problem['path']}: {problem['message']}")
    elif kind not in ("prepare", "score"):
        print(json.dumps({k: v for k, v in event.items() if k != "event"} | {"event": kind}, default=_plain),
              flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dfdesk train", description="Train or fine-tune a detector.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
