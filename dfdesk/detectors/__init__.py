"""Detector architectures.  Every architecture module is imported here explicitly so that
its ``@register_detector`` runs (timm's pattern); add one line per new file."""
from dfdesk.detectors import (
    effb5_att_convlstm,  # noqa: F401
    lipforensics_ta,  # noqa: F401
    lrnet,  # noqa: F401
    mesonet,  # noqa: F401  (registers mesonet4, mesoinception4)
    recce_freq,  # noqa: F401
    sbi_effnet_lite,  # noqa: F401
    sta_clip,  # noqa: F401
    xception_st_convlstm,  # noqa: F401
)
from dfdesk.detectors.registry import build_detector, create_detector, detector_class, list_detectors, register_detector

__all__ = ["build_detector", "create_detector", "detector_class", "list_detectors", "register_detector"]
