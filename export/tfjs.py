"""Export the classifier and the face detector to TF.js graph models, with the contract beside them.

    python -m export.tfjs [--model models/facecheck-v2] [--out build/model] [--quantize float16]

Keras -> SavedModel (`model.export`) -> `tensorflowjs_converter --output_format=tfjs_graph_model`
(the TF.js *layers* format does not load Keras 3 models; see ../shared/notes/toolchain.md).
BatchNorm is folded into the convolutions; weights are stored as float16 by default, which the
parity test (tests/test_parity.py) checks against the Python predictor.

Writes:
    OUT/classifier/model.json + shards   the classifier (input: N x S x S x 3 RGB in [0, 255])
    OUT/detector/model.json + shards     BlazeFace (input: N x 128 x 128 x 3 RGB in [0, 255])
    OUT/contract.json                    the model's contract, the one both predictors read (all
                                         of it: threshold, unsure_from, crop rule, detector, ...)
    OUT/export.json                      what was exported: sizes, quantisation, tensor names

`make extension` runs this and copies OUT into dist/extension/model/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import keras

from facecheck.contract import MODEL_FILE, Contract
from facecheck.detector import DETECTOR_DIR, DETECTOR_FILE
from facecheck.layers import CUSTOM_OBJECTS
from facecheck.predictor import default_model_dir


def convert(keras_path: Path, out: Path, quantize: str, uint8: str = "") -> dict:
    """One saved Keras model -> a TF.js graph model in `out`; returns what export.json records."""
    model = keras.saving.load_model(keras_path, compile=False, custom_objects=CUSTOM_OBJECTS)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(saved, format="tf_saved_model", verbose=False)
        cmd = [str(Path(sys.executable).with_name("tensorflowjs_converter")),
               "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
               "--signature_name=serving_default", "--saved_model_tags=serve"]
        if quantize == "float16":
            # A bare flag means "every weight not named by another quantize flag"; it must not be
            # last (it would take the next word as its value).
            cmd.append("--quantize_float16" if uint8 else "--quantize_float16=*")
        elif quantize == "uint8":
            cmd.append("--quantize_uint8=*")
        if uint8 and quantize != "uint8":  # these weights 1-byte affine, the rest as `quantize` says
            cmd.append(f"--quantize_uint8={uint8}")
        if out.exists():
            shutil.rmtree(out)
        subprocess.run([*cmd, str(saved), str(out)], check=True)
    spec = json.loads((out / "model.json").read_text())
    sig = spec.get("signature") or spec.get("userDefinedMetadata", {}).get("signature", {})
    size = sum(p.stat().st_size for p in out.glob("*.bin"))
    return {
        "source": str(keras_path),
        "parameters": model.count_params(),
        "weights_bytes": size,
        "inputs": sorted(sig.get("inputs", {})),
        "outputs": sorted(sig.get("outputs", {})),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="model folder (model.keras + contract.json)")
    ap.add_argument("--detector", type=Path, default=DETECTOR_DIR, help="folder of blazeface.keras")
    ap.add_argument("--out", type=Path, default=Path("build/model"))
    ap.add_argument("--quantize", choices=("float16", "uint8", "none"), default="float16")
    ap.add_argument("--uint8", default="", metavar="NAMES",
                    help="classifier weights to store as 1-byte affine instead (comma-separated TF.js "
                         "weight names, * wildcards: e.g. '*/head_1/*', a pretrained backbone's "
                         "widest 1x1 convolution); measure with the parity test before shipping")
    args = ap.parse_args(argv)

    model_dir = args.model or default_model_dir()
    contract = Contract.load(model_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    info = {
        "model_version": contract.model_version,
        "quantize": args.quantize,
        "uint8": args.uint8,
        "classifier": convert(model_dir / MODEL_FILE, args.out / "classifier", args.quantize, args.uint8),
        "detector": convert(args.detector / DETECTOR_FILE, args.out / "detector", args.quantize),
    }
    # Re-written, not copied: the same values, with every default the Python side fills in made
    # explicit, so the JS predictor reads exactly what the Python predictor uses.
    contract.save(args.out)
    (args.out / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    for part in ("classifier", "detector"):
        print(f"{part}: {info[part]['weights_bytes'] / 1e6:.2f} MB of {args.quantize} weights, "
              f"outputs {info[part]['outputs']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
