"""Merge trained models into one: an ensemble that the predictors, the export and the browser run as
a single model under a single contract.

    python -m training.ensemble models/facecheck-v2@0.7 runs/v3/e128x10-s0@0.3 \\
        --data ../shared/data/faces/manifest.csv --out runs/v3/ens-NAME

The merged Keras model takes the contract's face crop once and returns sum_i w_i * z_i / T_i: z_i
is member i's logit (averaged with its mirror image's, in-graph, when its contract sets
test_time_flip), T_i its temperature, and the weights are normalised. The members must share the
crop contract (input size, crop rule, resize, value range, detector). The merged model is then
calibrated on the val split like a trained run (training.calibrate: temperature, threshold, unsure
band), so its operating point obeys the same rule: no val real source above 5% accused.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
from keras import layers

from facecheck.contract import MODEL_FILE, Contract
from facecheck.layers import CUSTOM_OBJECTS, MirrorImage

# What the members must agree on: the face crop every member sees is cut once.
SHARED = ("input_size", "crop_rule", "crop_scale", "crop_shift_y", "crop_margin", "resize_method",
          "resize_antialias", "value_range", "detector")


def parse_member(spec: str) -> tuple[Path, float]:
    """"FOLDER" or "FOLDER@WEIGHT"."""
    path, _, weight = spec.partition("@")
    w = float(weight) if weight else 1.0
    if w <= 0:
        raise ValueError(f"a member's weight must be positive: {spec!r}")
    return Path(path), w


def merge(members: list[tuple[keras.Model, Contract, float]]) -> keras.Model:
    """One model: sum_i w_i * (member i's logit, mirror-averaged where its contract says) / T_i."""
    first = members[0][1]
    if any(c.output != "logit" for _, c, _ in members):
        raise ValueError("every member must output one fake-vs-real logit")
    for _, c, _ in members[1:]:
        diff = [f for f in SHARED if getattr(c, f) != getattr(first, f)]
        if diff:
            raise ValueError(f"members disagree on the crop contract: {', '.join(diff)}")
    total = sum(w for _, _, w in members)
    inputs = keras.Input((first.input_size, first.input_size, 3), name="face")
    terms = []
    for i, (model, contract, w) in enumerate(members):
        net = keras.Model(model.input, model.output, name=f"member{i}")
        z = net(inputs)
        if contract.test_time_flip:
            z = layers.Average(name=f"member{i}_mirror_average")([z, net(MirrorImage()(inputs))])
        terms.append(layers.Rescaling(w / total / contract.temperature, name=f"member{i}_weight")(z))
    out = layers.Add(name="logit")(terms) if len(terms) > 1 else terms[0]
    return keras.Model(inputs, out, name="ensemble")


def build(specs: list[str], model_version: str) -> tuple[keras.Model, Contract, list[dict]]:
    """The merged model, its uncalibrated contract (the first member's crop contract, temperature 1,
    no flip: the graph holds it; the members' provenance in `extra`) and that provenance."""
    loaded, provenance = [], []
    for spec in specs:
        folder, w = parse_member(spec)
        contract = Contract.load(folder)
        model = keras.saving.load_model(folder / MODEL_FILE, compile=False, custom_objects=CUSTOM_OBJECTS)
        loaded.append((model, contract, w))
        provenance.append({"folder": str(folder), "model_version": contract.model_version,
                           "architecture": contract.architecture, "weight": w,
                           "temperature": contract.temperature, "test_time_flip": contract.test_time_flip})
    contract = replace(loaded[0][1], architecture="ensemble", temperature=1.0, test_time_flip=False,
                       model_version=model_version, extra={"members": provenance})
    return merge(loaded), contract, provenance


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.split("\n\n")[0])
    ap.add_argument("members", nargs="+", help="model folders, each FOLDER or FOLDER@WEIGHT")
    ap.add_argument("--data", required=True, help="manifest CSV with a val split (for calibration)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--model-version", help="the contract's model_version (default: the folder's name)")
    args = ap.parse_args(argv)
    from facecheck.predictor import Predictor
    from facecheck.preprocess import eval_inputs
    from training.calibrate import calibrate
    from training.data import face_crops, list_samples, load_pixels

    model, contract, provenance = build(args.members, args.model_version or args.out.name)
    predictor = Predictor(model, contract)
    images, samples, _ = load_pixels(list_samples(args.data, "val"), 160)
    images, _ = face_crops(images, samples, contract, 160)
    report, _ = calibrate(predictor, eval_inputs(images, contract), np.array([s.label for s in samples]),
                          [s.source for s in samples])
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / MODEL_FILE)
    contract.save(args.out)
    (args.out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"threshold {contract.threshold:.4f}, unsure from {contract.unsure_from:.4f}, "
          f"T {contract.temperature:.3f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
