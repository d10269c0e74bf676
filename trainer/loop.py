"""The training loop: seeded, resumable exactly, with gradient accumulation, AMP on CUDA, backbone freezing,
and DDP when launched by ``torchrun``.

Determinism: the batch order of epoch ``e`` is a permutation drawn from ``seed + e``; every sample's pseudo-fake
and augmentation draws come from (seed, epoch, sample) (:class:`trainer.clips.ClipSamples`); dropout uses torch's
global generator, whose state is saved in every checkpoint.  A checkpoint is taken at an optimizer-step boundary
and holds the model, optimizer, scheduler, AMP scaler, RNG states and position (epoch, batch, step), so resuming
continues the very same sequence of updates (on CPU bit for bit; on CUDA up to non-deterministic kernels).

DDP: when ``WORLD_SIZE`` > 1 (``torchrun``), every rank draws the same global batches and keeps its share
(:func:`rank_share`); its mean loss is weighted by ``len(share) * world / len(batch)`` so that
:class:`torch.nn.parallel.DistributedDataParallel`'s average of the ranks' gradients is the gradient of the global
batch's mean loss, whatever the split (a rank left with nothing runs one sample at weight 0, so that it still joins
the all-reduce).  The process group is gloo on CPU and NCCL on CUDA (where BatchNorm becomes SyncBatchNorm, so
training-mode statistics are those of the global batch).  Only rank 0 evaluates, checkpoints and installs; it
broadcasts its early-stopping decision.  tests/trainer/test_trainer_ddp.py runs 2 gloo ranks through ``torchrun``.
"""
from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfdesk.detectors import detector_class
from dfdesk.detectors.base import DetectorOutput
from dfdesk.detectors.cards import ModelCard, fake_logit
from trainer.clips import ClipSamples
from trainer.config import TrainParams

CHECKPOINT_FILE = "last.pt"
BEST_FILE = "best.pt"


# --- the model's trainable part --------------------------------------------------------------------------------

# What is frozen is the architecture's own knowledge: its registered class names its backbone
# (``backbone_prefixes``, ``is_backbone_parameter``) and its stages (``stage_prefixes``).


def is_backbone(architecture: str, name: str) -> bool:
    return detector_class(architecture).is_backbone_parameter(name)


def freeze_backbone(model: nn.Module, architecture: str) -> int:
    """Stop gradients into the backbone; returns the number of frozen parameters (0: nothing is known)."""
    frozen = 0
    for name, parameter in model.named_parameters():
        if is_backbone(architecture, name):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def freeze_early_stages(model: nn.Module, architecture: str, count: int) -> int:
    """Stop gradients into the first ``count`` stages (stem first); returns the number of frozen parameters.

    Early stages hold generic edge and texture filters: freezing them saves their backward pass and keeps the
    ImageNet features that a small training set could only wear down."""
    stages = detector_class(architecture).stage_prefixes
    if count > len(stages):
        raise ValueError(f"{architecture} has {len(stages)} freezable stages, {count} asked for")
    prefixes = tuple(p for stage in stages[:count] for p in stage)
    frozen = 0
    for name, parameter in model.named_parameters():
        if prefixes and name.startswith(prefixes):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def keep_fully_frozen_norms_still(model: nn.Module) -> None:
    """BatchNorm layers whose every parameter is frozen keep their running statistics (eval mode)."""
    for module in model.modules():
        params = list(module.parameters())
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            module.eval()


def keep_frozen_norms_still(model: nn.Module, architecture: str) -> None:
    """Frozen backbones keep their BatchNorm statistics: their norm layers stay in eval mode."""
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and is_backbone(architecture, name + "."):
            if not any(p.requires_grad for p in module.parameters()):
                module.eval()


# --- losses ------------------------------------------------------------------------------------------------------


def detector_loss(architecture: str, card: ModelCard, output: DetectorOutput, clip: torch.Tensor,
                  targets: torch.Tensor, frame_level: bool) -> torch.Tensor:
    """The architecture's own objective where its class has one (RECCE); otherwise BCE on the logit of P(fake),
    per frame where scored."""
    own = detector_class(architecture).training_loss(output, clip, targets)
    if own is not None:
        return own
    if frame_level and output.frame_logits is not None:
        z = fake_logit(card, output.frame_logits.float())  # (B, T)
        return F.binary_cross_entropy_with_logits(z, targets.float()[:, None].expand_as(z))
    z = fake_logit(card, output.clip_logits.float())  # (B,)
    return F.binary_cross_entropy_with_logits(z, targets.float())


# --- distribution --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


PROCESS_GROUP_TIMEOUT = timedelta(hours=2)  # rank 0's validation and the face extraction run between collectives


def launched_rank() -> int:
    """This process's rank as torchrun set it (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def distributed_from_env(device: torch.device = torch.device("cpu")) -> Distributed:
    """torchrun's environment -> an initialised process group for ``device`` (gloo on CPU, NCCL on CUDA);
    a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend_for(device), timeout=PROCESS_GROUP_TIMEOUT)
    return Distributed(dist.get_rank(), dist.get_world_size(), local)


def close_distributed() -> None:
    """Destroy the process group, if this process made one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(dist: Distributed) -> None:
    if dist.world > 1:
        import torch.distributed as td

        td.barrier()


def rank_zero_decides(flag: bool, dist: Distributed, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank (early stopping: no rank may go on training alone)."""
    if dist.world <= 1:
        return flag
    import torch.distributed as td

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    td.broadcast(value, src=0)
    return bool(value.item())


def rank_share(batch: list[int], rank: int, world: int) -> tuple[list[int], float]:
    """This rank's part of a global batch, and the weight of its mean loss.

    With weight ``len(share) * world / len(batch)``, DDP's mean of the ranks' gradients equals the gradient of the
    mean loss over the whole batch.  A rank left with no sample runs the batch's first one at weight 0.
    """
    share = batch[rank::world]
    if not share:
        return batch[:1], 0.0
    return share, len(share) * world / len(batch)


# --- state --------------------------------------------------------------------------------------------------------


@dataclass
class TrainState:
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of this epoch already consumed
    step: int = 0  # optimizer steps taken
    best_metric: float = -math.inf
    best_epoch: int = -1
    stale_epochs: int = 0
    history: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class StepResult:
    epoch: int
    step: int
    loss: float
    learning_rate: float
    epoch_done: bool


class Trainer:
    """Owns the optimisation of one model on one training set."""

    def __init__(self, model: nn.Module, card: ModelCard, data: ClipSamples, params: TrainParams, *,
                 device: torch.device, seed: int = 0, dist: Distributed = Distributed()):
        self.card, self.data, self.params, self.device, self.seed, self.dist = card, data, params, device, seed, dist
        self.architecture = card.architecture
        self.frame_level = bool(getattr(model, "frame_level", False))
        torch.manual_seed(seed)
        random.seed(seed)
        self.model = model.to(device).train()
        if params.freeze_backbone:
            freeze_backbone(self.model, self.architecture)
        if params.freeze_stages:
            freeze_early_stages(self.model, self.architecture, params.freeze_stages)
        self.net = self._wrap(self.model)
        self.optimizer = make_optimizer(self.model, params)
        self.scheduler = make_scheduler(self.optimizer, params, self.steps_per_epoch * params.epochs)
        self.amp = bool(params.amp and device.type == "cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.state = TrainState()

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.dist.world <= 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "cuda":  # SyncBatchNorm runs on GPUs only; gloo ranks keep per-rank statistics
            self.model = model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[self.dist.local_rank], find_unused_parameters=True)
        return DistributedDataParallel(model, find_unused_parameters=True)

    # --- batches ---

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data) / self.params.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.batches_per_epoch / self.params.grad_accumulation)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The epoch's global micro-batches of sample indices, the same on every rank (each keeps its share)."""
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
        size = self.params.batch_size
        return [order[k:k + size] for k in range(0, len(order), size)]

    def _load_batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        items = [self.data[i] for i in indices]
        clips = torch.stack([x for x, _ in items]).to(self.device, non_blocking=True)
        return clips, torch.tensor([y for _, y in items], device=self.device)

    # --- training ---

    @property
    def finished(self) -> bool:
        return self.state.epoch >= self.params.epochs or self.reached_max_steps

    @property
    def reached_max_steps(self) -> bool:
        return bool(self.params.max_steps) and self.state.step >= self.params.max_steps

    def steps(self, cancel: Callable[[], bool] | None = None) -> Iterator[StepResult]:
        """Optimizer steps until the end of the current epoch (or max_steps); resumes where the state says."""
        state = self.state
        self.data.set_epoch(state.epoch)
        self.model.train()
        if self.params.freeze_backbone:
            keep_frozen_norms_still(self.model, self.architecture)
        if self.params.freeze_stages:
            keep_fully_frozen_norms_still(self.model)
        batches = self.epoch_batches(state.epoch)
        while state.batch_in_epoch < len(batches) and not self.reached_max_steps:
            if cancel is not None and cancel():
                return
            group = batches[state.batch_in_epoch:state.batch_in_epoch + self.params.grad_accumulation]
            loss = self._optimizer_step(group)
            state.batch_in_epoch += len(group)
            state.step += 1
            done = state.batch_in_epoch >= len(batches)
            yield StepResult(state.epoch, state.step, loss, self.optimizer.param_groups[0]["lr"], done)
        if state.batch_in_epoch >= len(batches):
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0

    def _optimizer_step(self, group: list[list[int]]) -> float:
        """One optimizer step over ``group`` (global micro-batches); returns the mean loss of the global batch."""
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for position, batch in enumerate(group):
            indices, weight = rank_share(batch, self.dist.rank, self.dist.world)
            clips, targets = self._load_batch(indices)
            last = position == len(group) - 1
            sync = self.net.no_sync() if self.dist.world > 1 and not last else nullcontext()
            with sync:
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                    output = self.net(clips)
                    loss = detector_loss(self.architecture, self.card, output, clips, targets, self.frame_level)
                self.scaler.scale(loss * weight / len(group)).backward()
            total += loss.detach().double() * weight / len(group)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return self._mean_over_ranks(total)

    def _mean_over_ranks(self, value: torch.Tensor) -> float:
        if self.dist.world > 1:
            import torch.distributed as td

            td.all_reduce(value)
            value = value / self.dist.world
        return float(value)

    # --- checkpoints ---

    def checkpoint(self) -> dict:
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "state": asdict(self.state), "rng": rng_states(),
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        torch.save(self.checkpoint(), temporary)
        os.replace(temporary, path)
        return path

    def load(self, path: str | Path) -> None:
        saved = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = TrainState(**saved["state"])
        set_rng_states(saved["rng"])


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("every parameter is frozen: nothing to train")
    lr, wd = params.learning_rate, params.weight_decay
    if params.optimizer == "sgd":
        return torch.optim.SGD(trainable, lr=lr, momentum=0.9, weight_decay=wd)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(trainable, lr=lr, weight_decay=wd)
    return torch.optim.Adam(trainable, lr=lr, weight_decay=wd)


def make_scheduler(optimizer: torch.optim.Optimizer, params: TrainParams, total_steps: int):
    if params.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)


def rng_states() -> dict:
    """torch's CPU (and CUDA) generator states: the only global randomness the loop uses (dropout)."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(states["cuda"].cpu()))


def seed_everything(seed: int) -> None:
    """Seed torch, Python and numpy's legacy global generator; deterministic kernels where PyTorch has them."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.backends.cudnn.benchmark = False
