"""Where the shipped models live, without importing TensorFlow (for the packaging scripts, the
CLI's --version and the server's model info)."""

from __future__ import annotations

import os
from pathlib import Path

# In the source tree: models/ beside the package. In a wheel (package_scripts/build_wheel.py), which
# has no source tree: the copy it packs inside the package, facecheck/models/.
_PACKED = Path(__file__).resolve().parent / "models"
MODELS_DIR = _PACKED if _PACKED.is_dir() else Path(__file__).resolve().parent.parent / "models"
# The model shipped in the repository, with its card and contract.
SHIPPED_MODEL_DIR = MODELS_DIR / "facecheck-v2"
# The face detector every model uses (its Keras file and licence).
DETECTOR_DIR = MODELS_DIR / "detector"


def default_model_dir() -> Path:
    """The model folder the tools use: $FACECHECK_MODEL_DIR, else the shipped model."""
    return Path(os.environ.get("FACECHECK_MODEL_DIR", SHIPPED_MODEL_DIR))
