"""What GET /api/v1/model says about the model: its contract, its card, the device and the limits.

Built once per app: none of it changes while the server runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facecheck.paths import default_model_dir
from server.config import Config
from server.inference import json_safe

if TYPE_CHECKING:
    from facecheck.predictor import Predictor

# Validation figures, best first: the calibrated model's own (calibration.json), else the training
# run's (metrics.json).
VALIDATION_FILES = ("calibration.json", "metrics.json")


def model_info(config: Config, predictor: Predictor) -> dict:
    """The answer of GET /api/v1/model for this app (schema ModelInfo in server/openapi.py)."""
    model_dir = Path(config.model_dir) if config.model_dir else default_model_dir()
    return {
        "contract": json_safe(dataclasses.asdict(predictor.contract)),
        "card": model_card_summary(model_dir),
        "device": device_in_use(),
        "limits": {"max_request_bytes": config.max_request_bytes, "max_images": config.max_images,
                   "max_pixels": config.max_pixels, "max_request_pixels": config.max_request_pixels},
        "auth": bool(config.token),
    }


def model_brief(predictor: Predictor, info: dict) -> dict:
    """The model fields every predict answer carries: the contract's brief and the device."""
    return {**predictor.contract.brief(), "device": info["device"]}


def device_in_use() -> str:
    # Imported here so that importing the server (e.g. `facecheck serve --help`) does not start
    # TensorFlow; by the time an app is made the predictor has loaded it.
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def model_card_summary(model_dir: str | Path) -> dict:
    """Title, what-it-is and intended-use paragraphs of MODEL_CARD.md, and validation metrics."""
    model_dir = Path(model_dir)
    out: dict[str, Any] = {"name": model_dir.name, "title": None, "summary": None,
                           "intended_use": None, "validation": None}
    card = model_dir / "MODEL_CARD.md"
    if card.exists():
        title, sections = _card_sections(card.read_text(encoding="utf-8", errors="replace"))
        out["title"] = title
        out["summary"] = _first_paragraph(sections, "what it is")
        out["intended_use"] = _first_paragraph(sections, "intended use")
    out["validation"] = _validation_figures(model_dir)
    return out


def _card_sections(text: str) -> tuple[str | None, dict[str, list[str]]]:
    """The card's first "# " title and its lines under each "## " heading (lower-cased)."""
    title = None
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# ") and title is None:
            title = line[2:].strip()
        elif line.startswith("## "):
            current = line[3:].strip().lower()
        else:
            sections.setdefault(current, []).append(line)
    return title, sections


def _first_paragraph(sections: dict[str, list[str]], prefix: str) -> str | None:
    """The first paragraph, on one line, of the first section whose heading starts with `prefix`."""
    for name, lines in sections.items():
        if name.startswith(prefix):
            text = "\n".join(lines).strip().split("\n\n")[0]
            return " ".join(text.split()) or None
    return None


def _validation_figures(model_dir: Path) -> dict | None:
    """The numeric "val" figures of the first of VALIDATION_FILES that has them."""
    for name in VALIDATION_FILES:
        path = model_dir / name
        try:
            val = json.loads(path.read_text()).get("val") if path.exists() else None
        except (OSError, ValueError):
            val = None
        if isinstance(val, dict):
            return {k: v for k, v in val.items() if isinstance(v, (int, float))}
    return None
