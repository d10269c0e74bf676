"""Entry script of the frozen app: the same main() as the `dfdesk` console script.

PyInstaller follows imports, including those inside function bodies, so the modules the app imports lazily are
named here once instead of in a hidden-import list. `_bundled_modules` is never called.
"""
import sys

from dfdesk.__main__ import main


def _bundled_modules() -> None:  # pragma: no cover - read by PyInstaller's analysis only
    import ai_edge_litert.interpreter  # noqa: F401  LiteRT, imported lazily by dfdesk.core.landmarks.FaceLandmarker

    # dfdesk.cli.main imports the module of the sub-command being run by name (COMMANDS): every one of them.
    import dfdesk.cli.analyze_command  # noqa: F401
    import dfdesk.cli.audit_command  # noqa: F401
    import dfdesk.cli.batch_command  # noqa: F401
    import dfdesk.cli.case_commands  # noqa: F401
    import dfdesk.cli.main  # noqa: F401
    import dfdesk.cli.models_command  # noqa: F401
    import dfdesk.cli.profile_command  # noqa: F401
    import dfdesk.cli.report_command  # noqa: F401
    import dfdesk.cli.sample_command  # noqa: F401
    import dfdesk.cli.train_command  # noqa: F401
    import dfdesk.detectors  # noqa: F401  imports every detector architecture (the registry fills on import)
    import dfdesk.detectors.onnx_runtime  # noqa: F401  onnxruntime, imported lazily by ONNX models
    import dfdesk.gui.app  # noqa: F401
    import dfdesk.gui.launch  # noqa: F401  the GUI launch hook (dfdesk/__main__.py)
    import dfdesk.gui.main_window  # noqa: F401
    import dfdesk.gui.trainer_wizard  # noqa: F401  imported when the wizard opens (gui/views/model_manager.py)
    import dfdesk.services.analysis  # noqa: F401
    import dfdesk.services.cases  # noqa: F401  imported inside the case commands (cli/case_commands.py)
    import dfdesk.services.report  # noqa: F401
    import dfdesk.store.file_check  # noqa: F401  its error class is recognised by name (cli/main.py)
    import dfdesk.store.migrations  # noqa: F401  Alembic reads env.py and versions/ from disk (spec: datas)
    import trainer.cli  # noqa: F401  `dfdesk train` and the GUI's training wizard


if __name__ == "__main__":
    sys.exit(main())
