"""dfdesk: offline video deepfake forensics."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dfdesk")
except PackageNotFoundError:  # a frozen build without package metadata
    __version__ = "0.1.0"
