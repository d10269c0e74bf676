"""`dfdesk models list|show|import|register|enable|disable|export-onnx`.

``import``, ``register``, ``enable`` and ``disable`` change what every case database's default analysis uses, so
they need the installation's admin; ``enable`` prints the model's validation figures and warnings first and asks
(or takes ``--yes``) (see :mod:`dfdesk.cli.profile_command`); ``list`` prints every model folder that is
skipped and why (unreadable card, unregistered, symbolic link).
"""
from __future__ import annotations

import argparse
import json
import sys

from dfdesk.cli import arguments
from dfdesk.cli.common import EXIT_OK, CliError, add_db_option, interactive, open_database
from dfdesk.cli.profile_command import add_profile_option, authorize_installation
from dfdesk.detectors.cards import CardError, card_to_dict
from dfdesk.detectors.weights import WeightsError
from dfdesk.services.model_enablement import EnablementError, model_states, set_enabled, validation_review
from dfdesk.services.model_imports import IMPORT_ERRORS, import_audited, register_audited
from dfdesk.services.models import (
    ModelStoreError,
    export_onnx,
    find_model,
    scan_installed,
    untrained_cards,
)


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="installed detector models")
    sub = models.add_subparsers(dest="models_command", required=True)
    sub.add_parser("list", help="list installed models and architectures that need training").set_defaults(
        handler=list_models)
    show = sub.add_parser("show", help="print a model card")
    show.add_argument("name")
    show.set_defaults(handler=show_model)
    imp = sub.add_parser("import", help="install a weights file (safetensors, ONNX, or a PyTorch checkpoint)")
    imp.add_argument("path", type=arguments.input_file)
    imp.add_argument("--architecture", required=True)
    imp.add_argument("--name", required=True)
    imp.add_argument("--training-data", default="", help="what the weights were trained on")
    imp.add_argument("--licence", default="")
    add_db_option(imp)
    add_profile_option(imp)
    imp.set_defaults(handler=import_weights)
    reg = sub.add_parser("register", help="register a model folder already in the user models folder (trained "
                                          "here, or copied in by an admin) so that analyses use it")
    reg.add_argument("name")
    add_db_option(reg)
    add_profile_option(reg)
    reg.set_defaults(handler=register_folder)
    for verb, helper in (("enable", "let the default analysis use an installed model (after its figures)"),
                         ("disable", "leave an installed model out of the default analysis")):
        change = sub.add_parser(verb, help=helper)
        change.add_argument("name")
        if verb == "enable":
            change.add_argument("--yes", action="store_true", help="enable without asking, after printing the figures")
        add_db_option(change)
        add_profile_option(change)
        change.set_defaults(handler=enable_model if verb == "enable" else disable_model)
    onnx = sub.add_parser("export-onnx", help="export an installed model to ONNX")
    onnx.add_argument("name")
    onnx.add_argument("--out", type=arguments.output_file, required=True)
    onnx.set_defaults(handler=export_model)


def list_models(_args: argparse.Namespace) -> int:
    found = scan_installed()
    states = model_states(found.cards)
    for card in sorted(found.cards, key=lambda c: c.name):
        state = ("enabled" if states[card.name].enabled else "disabled") if card.trained else "needs training"
        print(f"{card.name}\t{card.architecture}\t{card.version}\t{state}\t{card.weights_sha256[:16]}")
    for card in untrained_cards():
        print(f"{card.architecture}\t{card.architecture}\t-\tneeds training (no trained weights installed)\t-")
    for problem in found.problems:
        print(f"! {problem.path}: {problem.message}")
    return EXIT_OK


def show_model(args: argparse.Namespace) -> int:
    try:
        card = find_model(args.name)
    except ModelStoreError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(card_to_dict(card), indent=2, ensure_ascii=False, default=str))
    return EXIT_OK


def import_weights(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    actor, grant = authorize_installation(db, args.profile, "model import")  # before the file is read
    try:
        card = import_audited(db, actor, grant, args.path, args.architecture, args.name,
                              training_data=args.training_data, licence=args.licence)
    except IMPORT_ERRORS as exc:
        raise CliError(str(exc)) from None
    print(f"installed {card.name} ({card.architecture}) sha256 {card.weights_sha256}")
    return EXIT_OK


def register_folder(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    actor, grant = authorize_installation(db, args.profile, "model registration")
    try:
        card = register_audited(db, actor, grant, args.name)
    except ModelStoreError as exc:
        raise CliError(str(exc)) from None
    print(f"registered {card.name} ({card.architecture}) sha256 {card.weights_sha256}")
    return EXIT_OK


def enable_model(args: argparse.Namespace) -> int:
    card = _installed(args.name)
    review = validation_review(card)
    for name, value in review.figures:
        print(f"{name}\t{value}")
    for warning in review.warnings:
        print(f"warning: {warning}")
    if not args.yes and not _confirmed(f"enable {card.name} for every analysis on this installation? [y/N] "):
        raise CliError(f"{card.name} was not enabled (answer y, or add --yes after reading its figures)")
    return _change(args, card, True)


def disable_model(args: argparse.Namespace) -> int:
    return _change(args, _installed(args.name), False)


def _installed(name: str):
    try:
        return find_model(name)
    except ModelStoreError as exc:
        raise CliError(str(exc)) from None


def _confirmed(prompt: str) -> bool:
    if not interactive():
        return False
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _change(args: argparse.Namespace, card, enabled: bool) -> int:
    db = open_database(args.db)
    _actor, grant = authorize_installation(db, args.profile, "enabling or disabling a model")
    try:
        state = set_enabled(card, enabled, grant, db)
    except EnablementError as exc:
        raise CliError(str(exc)) from None
    print(f"{card.name}: {state.reason}")
    return EXIT_OK


def export_model(args: argparse.Namespace) -> int:
    try:
        result = export_onnx(args.name, args.out)
    except (ModelStoreError, WeightsError, CardError) as exc:
        raise CliError(str(exc)) from None
    print(f"exported {args.name} to {result.path} (opset {result.opset}, {result.exporter} exporter)")
    return EXIT_OK
