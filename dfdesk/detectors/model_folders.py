"""The model store, without the database or the installation's keys: where model folders live, every card read
from them, and a new model folder put into place whole.

A model is a folder holding ``card.toml`` and its weights: bundled ones in ``models/`` beside the app, trained and
imported ones in :func:`dfdesk.paths.user_models_dir`.  The desktop's and the command line's list of models
(:mod:`dfdesk.services.models`, which adds the check of an admin's signed registration) and the trainer (the model
to fine-tune, the trained model it installs) both go through here, so they find and install models alike.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dfdesk import paths
from dfdesk.detectors.cards import CARD_FILE, CardError, ModelCard, load_card


class ModelFolderError(ValueError):
    """A model folder cannot be put into place (its name is taken)."""


@dataclass(frozen=True)
class CardProblem:
    path: Path
    message: str


@dataclass
class FoundModels:
    cards: list[ModelCard] = field(default_factory=list)
    problems: list[CardProblem] = field(default_factory=list)


def model_roots() -> list[Path]:
    """Where models are looked for: bundled first, then the user's folder."""
    return [paths.bundled_models_dir(), paths.user_models_dir()]


def read_model_folders(check_user_card: Callable[[ModelCard], None] | None = None) -> FoundModels:
    """Every usable card (the first of a name wins, bundled before the user's), and a problem for each card that
    does not read, that ``check_user_card`` refuses (CardError; user-folder cards only), or whose name is taken."""
    found = FoundModels()
    names: set[str] = set()
    user_root = paths.user_models_dir()
    for root in model_roots():
        for card_file in sorted(root.glob(f"*/{CARD_FILE}")) if root.is_dir() else []:
            try:
                card = load_card(card_file)
                if check_user_card is not None and root == user_root:
                    check_user_card(card)
            except CardError as exc:
                found.problems.append(CardProblem(card_file.parent, str(exc)))
                continue
            if card.name in names:
                found.problems.append(CardProblem(card_file.parent, f"duplicate model name {card.name!r}; ignored"))
                continue
            names.add(card.name)
            found.cards.append(card)
    return found


def name_taken(name: str) -> bool:
    """True when a readable card has this name or the user models folder holds a folder of it."""
    return (paths.user_models_dir() / name).exists() or any(c.name == name for c in read_model_folders().cards)


@contextmanager
def new_model_folder(name: str) -> Iterator[Path]:
    """An empty staging folder for model ``name`` inside the user models folder (hidden: its parent starts with a
    dot), renamed to ``<user models>/<name>`` when the block ends without an error and removed otherwise, so no
    reader ever sees half a model.  ModelFolderError when the name is taken."""
    root = paths.user_models_dir()
    if name_taken(name):
        raise ModelFolderError(f"a model named {name!r} is already installed")
    with tempfile.TemporaryDirectory(dir=root, prefix=".staging-") as tmp:
        staging = Path(tmp) / name
        staging.mkdir()
        yield staging
        if (root / name).exists():  # installed by another process meanwhile
            raise ModelFolderError(f"a model named {name!r} is already installed")
        shutil.move(str(staging), root / name)
