"""Fit a model's temperature and decision threshold on the validation split.

    python -m training.calibrate --model runs/NAME --data ../shared/data/faces/manifest.csv

Training calls `calibrate` itself; this command re-runs it on a saved model, for instance after a
change to how the predictor reads the model (the contract), so the stored temperature and
threshold match what the predictor actually computes. The logits come from the Predictor, so
calibration sees exactly what `scan` and `evaluate` will see.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facecheck import metrics as M
from facecheck.contract import Contract
from facecheck.detector_settings import DetectorSettings
from facecheck.predictor import Predictor
from facecheck.preprocess import eval_inputs
from training.data import face_crops, list_samples, load_pixels


def calibrate(predictor, val_inputs: np.ndarray, y: np.ndarray, sources, max_false_accusation: float = 0.05,
              max_unsure: float = 0.10) -> tuple[dict, np.ndarray]:
    """Set predictor.contract's temperature, threshold and unsure band from validation inputs
    (metrics.choose_operating_point: no real source above `max_false_accusation` called
    generated); return a report and the calibrated probabilities."""
    contract: Contract = predictor.contract
    z = predictor.logits(val_inputs)
    ece_raw = M.expected_calibration_error(y, M.sigmoid(z))
    contract.temperature = M.fit_temperature(y, z)
    p = contract.probability(z)
    contract.threshold, contract.unsure_from, accused = M.choose_operating_point(
        y, p, sources, max_false_accusation, max_unsure)
    sources = np.asarray(sources)
    per_source = M.per_source(y, p, sources, contract.threshold)
    in_band = (p >= contract.unsure_from) & (p < contract.threshold)
    for src, report in per_source.items():
        report["unsure_share"] = float(in_band[sources == src].mean())
    return {
        "temperature": contract.temperature,
        "threshold": contract.threshold,
        "unsure_from": contract.unsure_from,
        "max_false_accusation": max_false_accusation,
        "max_unsure": max_unsure,
        "val_real_called_generated": accused,
        "val_per_source": per_source,
        "test_time_flip": contract.test_time_flip,
        "val_ece_before": ece_raw,
        "val_ece_after": M.expected_calibration_error(y, p),
        "val_nll_before": M.nll(y, z, 1.0),
        "val_nll_after": M.nll(y, z, contract.temperature),
        "val": M.binary_report(y, p, contract.threshold),
    }, p


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model folder (model.keras + contract.json)")
    ap.add_argument("--data", required=True, help="manifest CSV or folder with a validation split")
    ap.add_argument("--split", default="val")
    ap.add_argument("--cache-size", type=int, default=160)
    ap.add_argument("--model-version", help="also set the contract's model_version")
    ap.add_argument("--max-false-accusation", type=float, default=0.05)
    ap.add_argument("--max-unsure", type=float, default=0.10)
    ap.add_argument("--reset-detector", action="store_true",
                    help="set the contract's face-detector settings to the current defaults "
                         "(facecheck/detector_settings.py) before calibrating")
    args = ap.parse_args(argv)
    predictor = Predictor.load(args.model)
    if args.reset_detector:
        predictor.contract.detector = predictor.detector.settings = DetectorSettings()
    images, samples, _ = load_pixels(list_samples(args.data, args.split), args.cache_size)
    images, _ = face_crops(images, samples, predictor.contract, args.cache_size)
    report, _ = calibrate(predictor, eval_inputs(images, predictor.contract),
                          np.array([s.label for s in samples]), [s.source for s in samples],
                          args.max_false_accusation, args.max_unsure)
    if args.model_version:
        predictor.contract.model_version = args.model_version
    predictor.contract.save(args.model)
    (Path(args.model) / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("val", "val_per_source")}, indent=2))


if __name__ == "__main__":
    main()
