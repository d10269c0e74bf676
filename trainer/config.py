"""A training run's settings, read from a TOML or JSON file.

```toml
seed = 0
device = "auto"                      # auto | cpu | cuda
checkpoint_dir = "runs/meso-ft"      # relative paths are relative to the config file
[data]
kind = "folders"                     # an adapter of trainer.datasets, or "auto"
root = "/data/my-set"
options = {}                         # passed to the adapter
split_ratios = [0.8, 0.1, 0.1]       # for records without an official split
split_by = "identity"                # identity | video
pseudo_fakes = "none"                # none | self_blend | video_blend | sbi (root: a folder with MANIFEST.csv)
augment = false
max_clips_per_video = 4
[detector]
model = "meso4_df"                   # an installed model: fine-tune its weights ...
# architecture = "sta_clip"          # ... or an architecture, randomly initialised
# options = {variant = "tiny"}
# input = {size = 64, frames_per_clip = 4}   # overrides of the input spec
# init = "imagenet"                  # start the architecture's backbone from ImageNet weights (sbi_effnet_lite)
[train]                              # missing values take the detector's paper defaults
learning_rate = 1e-4
[stacking]                           # only for `dfdesk train --stacking` (then [detector] is not needed)
models = ["meso4_df", "meso4_f2f"]   # installed models; [] = every one with trained weights
l2 = 1.0
[sbi]                                # only with pseudo_fakes = "sbi" (see SbiConfig; trainer/configs/sbi_*.toml)
faces_dir = "runs/sbi-faces"
```
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PSEUDO_FAKES = ("none", "self_blend", "video_blend")  # over any data set adapter (what the GUI wizard offers)
SBI = "sbi"  # the paper's 68-landmark recipe over a MANIFEST.csv folder of real faces: its own run (trainer.sbi_train)
DEVICES = ("auto", "cpu", "cuda")
CALIBRATIONS = ("none", "temperature", "platt")
THRESHOLD_METHODS = ("eer", "youden")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or inconsistent; the message says where."""


@dataclass(frozen=True)
class DataConfig:
    kind: str = "auto"
    root: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_by: str = "identity"
    split_seed: int = 0
    pseudo_fakes: str = "none"
    augment: bool = False
    max_clips_per_video: int = 4
    face_longest_side: int = 640  # MTCNN's detection resolution (dfdesk's FaceSettings default)


@dataclass(frozen=True)
class DetectorConfig:
    model: str = ""  # an installed model to fine-tune
    architecture: str = ""  # or an architecture to train from random weights
    options: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)  # overrides of the InputSpec (size, frames_per_clip, ...)
    init: str = ""  # "imagenet": start an architecture's backbone from its ImageNet weights (sbi_effnet_lite)


@dataclass(frozen=True)
class TrainParams:
    """Optimisation settings; ``None`` means "the detector's paper default" (its class's ``training_defaults``)."""

    optimizer: str | None = None  # adam | adamw | sgd
    learning_rate: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    grad_accumulation: int = 1
    amp: bool = True  # used only on CUDA
    freeze_backbone: bool = False
    freeze_stages: int = 0  # architectures with ``stage_prefixes``: freeze the stem and the stages after it
    early_stopping_patience: int = 5  # epochs without a better validation video AUC; 0 disables
    max_steps: int = 0  # stop after this many optimizer steps (0: no limit); for smoke runs
    scheduler: str = "cosine"  # cosine | constant


@dataclass(frozen=True)
class EvalConfig:
    calibration: str = "temperature"
    threshold: str = "eer"
    bootstrap: int = 1000
    confidence: float = 0.95


@dataclass(frozen=True)
class StackingConfig:
    """``dfdesk train --stacking``: logistic stacking of installed models, fitted on the validation split."""

    models: tuple[str, ...] = ()  # installed models to stack; () = every installed model with trained weights
    l2: float = 1.0  # penalty (l2 / 2) * |w|^2 added to the summed log-loss; the bias is not penalised
    frame_aggregation: str = "mean"  # how frame-level models make a video score (as the analysis's option)
    frames: int = 0  # frames per model as `dfdesk analyze --frames` (0: each card's default)
    batch_size: int = 8


@dataclass(frozen=True)
class SbiConfig:
    """``pseudo_fakes = "sbi"``: real faces of a MANIFEST.csv folder ([data] root), 68 landmarks, self-blending."""

    faces_dir: str = "sbi-faces"  # where the one-time extraction keeps crops and landmarks (resolved like paths)
    frames_per_clip: int = 32  # faces taken from each clip, spread over it
    photos: bool = True  # use the still photos as well (training people only)
    val_fraction: float = 0.15  # share of the clips' people held out for validation
    val_faces_per_file: int = 8  # validation faces per clip (spread over the extracted ones)
    degrade: bool = True  # evidence-like degradations (H.264, JPEG, downscaling) on both classes
    checkpoint_minutes: float = 5.0  # last.pt is also written this often within an epoch
    loader_threads: int = 0  # threads that make a batch's samples; 0: one on a CPU, all cores but one with a GPU


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    detector: DetectorConfig
    train: TrainParams = field(default_factory=TrainParams)
    eval: EvalConfig = field(default_factory=EvalConfig)
    stacking: StackingConfig = field(default_factory=StackingConfig)
    sbi: SbiConfig = field(default_factory=SbiConfig)
    seed: int = 0
    device: str = "auto"
    checkpoint_dir: str = "dfdesk-training"
    name: str = ""  # installed model's name; default <base>-ft-<timestamp>
    install: bool = True
    cache_dir: str = ""  # face-crop cache; default dfdesk.paths.cache_dir()/crops

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paper_defaults(architecture: str) -> dict[str, Any]:
    """Optimizer, learning rate, weight decay, batch size and epochs for ``architecture``: its registered class's
    ``training_defaults`` (the paper's, each class says whose)."""
    from dfdesk.detectors import detector_class  # imported here: reading a config must not load PyTorch

    return dict(detector_class(architecture).training_defaults)


def resolve_train_params(params: TrainParams, architecture: str) -> TrainParams:
    """``params`` with every ``None`` replaced by the architecture's paper default."""
    defaults = paper_defaults(architecture)
    return replace(params, **{k: v for k, v in defaults.items() if getattr(params, k) is None})


def load_config(path: str | Path, *, stacking: bool = False) -> TrainConfig:
    """Read a TOML (``.toml``) or JSON (anything else) file; relative paths resolve against its folder.

    ``stacking``: the file configures ``dfdesk train --stacking`` ([detector] and [train] are not needed)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path.name} is not a readable configuration file ({exc})") from None
    return config_from_dict(doc, base_dir=path.absolute().parent, stacking=stacking)


def config_from_dict(doc: dict[str, Any], base_dir: Path | None = None, *, stacking: bool = False) -> TrainConfig:
    if not isinstance(doc, dict):
        raise ConfigError("the configuration must be a table of settings")
    sections = {"data": DataConfig, "detector": DetectorConfig, "train": TrainParams, "eval": EvalConfig,
                "stacking": StackingConfig, "sbi": SbiConfig}
    top = _build(TrainConfig, {k: v for k, v in doc.items() if k not in sections}, "top level",
                 skip=set(sections))
    built = {name: _build(cls, _section(doc, name), name) for name, cls in sections.items()}
    config = replace(top, **built)
    config = _resolve_paths(config, base_dir)
    validate(config, stacking=stacking)
    return config


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _build(cls, values: dict[str, Any], where: str, skip: set[str] = frozenset()):
    known = {f.name for f in fields(cls)} - skip
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if cls is TrainConfig:
        values = {"data": DataConfig(), "detector": DetectorConfig(), **values}
    values = {k: tuple(v) if isinstance(v, list) and k in ("split_ratios", "models") else v
              for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"bad settings in {where}: {exc}") from None


def _resolve_paths(config: TrainConfig, base_dir: Path | None) -> TrainConfig:
    if base_dir is None:
        return config

    def absolute(value: str) -> str:
        return os.path.normpath(base_dir / value) if value and not Path(value).is_absolute() else value

    return replace(config, checkpoint_dir=absolute(config.checkpoint_dir), cache_dir=absolute(config.cache_dir),
                   data=replace(config.data, root=absolute(config.data.root)),
                   sbi=replace(config.sbi, faces_dir=absolute(config.sbi.faces_dir)))


def validate(config: TrainConfig, *, stacking: bool = False) -> None:
    """Raise :class:`ConfigError` naming the first setting that cannot work (``stacking``: no [detector] needed)."""
    data, detector, params = config.data, config.detector, config.train
    _require(bool(data.root), "[data] root is required: the data set folder or list file")
    _require(data.pseudo_fakes in (*PSEUDO_FAKES, SBI),
             f"[data] pseudo_fakes must be one of {', '.join((*PSEUDO_FAKES, SBI))}")
    _require(data.split_by in ("identity", "video"), "[data] split_by must be identity or video")
    _require(len(data.split_ratios) == 3 and all(_number(r) and r >= 0 for r in data.split_ratios),
             "[data] split_ratios must be three non-negative numbers (train, val, test)")
    _require(isinstance(data.max_clips_per_video, int) and data.max_clips_per_video >= 1,
             "[data] max_clips_per_video must be a positive integer")
    _require(stacking or bool(detector.model) != bool(detector.architecture),
             "[detector] needs exactly one of model (an installed model) or architecture")
    _require(config.device in DEVICES, f"device must be one of {', '.join(DEVICES)}")
    _require(config.eval.calibration in CALIBRATIONS, f"[eval] calibration must be one of {', '.join(CALIBRATIONS)}")
    _require(config.eval.threshold in THRESHOLD_METHODS, "[eval] threshold must be eer or youden")
    _require(isinstance(config.eval.bootstrap, int) and config.eval.bootstrap >= 1, "[eval] bootstrap must be >= 1")
    _check_train_params(params)
    _check_stacking(config.stacking)
    _check_sbi(config)


def _check_sbi(config: TrainConfig) -> None:
    sbi, detector = config.sbi, config.detector
    _require(detector.init in ("", "imagenet"), "[detector] init must be \"imagenet\" or left out")
    _require(isinstance(sbi.frames_per_clip, int) and sbi.frames_per_clip >= 1, "[sbi] frames_per_clip must be >= 1")
    _require(isinstance(sbi.val_faces_per_file, int) and sbi.val_faces_per_file >= 1,
             "[sbi] val_faces_per_file must be >= 1")
    _require(_number(sbi.val_fraction) and 0 < sbi.val_fraction < 1, "[sbi] val_fraction must lie between 0 and 1")
    _require(_number(sbi.checkpoint_minutes) and sbi.checkpoint_minutes > 0, "[sbi] checkpoint_minutes must be > 0")
    _require(isinstance(sbi.loader_threads, int) and sbi.loader_threads >= 0, "[sbi] loader_threads must be >= 0")
    if config.data.pseudo_fakes == SBI:
        _require(bool(detector.architecture), "pseudo_fakes = \"sbi\" trains an architecture ([detector] architecture)")
        batch = config.train.batch_size
        _require(batch is None or batch % 2 == 0, "[train] batch_size must be even with pseudo_fakes = \"sbi\" "
                 "(each real face and its pseudo-fake share a batch)")


def _check_stacking(stacking: StackingConfig) -> None:
    _require(all(isinstance(m, str) and m for m in stacking.models), "[stacking] models must be model names")
    _require(_number(stacking.l2) and stacking.l2 >= 0, "[stacking] l2 must be a non-negative number")
    _require(stacking.frame_aggregation in ("mean", "confident"), "[stacking] frame_aggregation must be mean or "
             "confident")
    _require(isinstance(stacking.frames, int) and stacking.frames >= 0, "[stacking] frames must be >= 0")
    _require(isinstance(stacking.batch_size, int) and stacking.batch_size >= 1, "[stacking] batch_size must be >= 1")


def _check_train_params(params: TrainParams) -> None:
    for name in ("learning_rate", "weight_decay"):
        value = getattr(params, name)
        _require(value is None or (_number(value) and value >= 0), f"[train] {name} must be a non-negative number")
    for name in ("batch_size", "epochs", "grad_accumulation"):
        value = getattr(params, name)
        _require(value is None or (isinstance(value, int) and value >= 1), f"[train] {name} must be an integer >= 1")
    _require(params.optimizer in (None, "adam", "adamw", "sgd"), "[train] optimizer must be adam, adamw or sgd")
    _require(params.scheduler in ("cosine", "constant"), "[train] scheduler must be cosine or constant")
    _require(isinstance(params.max_steps, int) and params.max_steps >= 0, "[train] max_steps must be >= 0")
    _require(isinstance(params.freeze_stages, int) and params.freeze_stages >= 0, "[train] freeze_stages must be >= 0")
    _require(isinstance(params.early_stopping_patience, int) and params.early_stopping_patience >= 0,
             "[train] early_stopping_patience must be >= 0")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def write_config(config: TrainConfig, path: str | Path) -> Path:
    """Write ``config`` as JSON (what the wizard hands to ``dfdesk train``)."""
    path = Path(path)
    path.write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    return path
