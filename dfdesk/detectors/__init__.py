"""Detector architectures.  Every architecture module is imported here explicitly so that
its ``@register_detector`` runs (timm's pattern); add one line per new file."""
from dfdesk.detectors.registry import build_detector, create_detector, detector_class, list_detectors, register_detector
from dfdesk.detectors import mesonet  # noqa: F401  (registers mesonet4, mesoinception4)
from dfdesk.detectors import xception_st_convlstm  # noqa: F401
from dfdesk.detectors import lipforensics_ta  # noqa: F401
from dfdesk.detectors import effb5_att_convlstm  # noqa: F401
from dfdesk.detectors import sta_clip  # noqa: F401
from dfdesk.detectors import recce_freq  # noqa: F401

__all__ = ["build_detector", "create_detector", "detector_class", "list_detectors", "register_detector"]
