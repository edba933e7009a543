"""Copy MediaPipe's BlazeFace weights from its .tflite file into the Keras rebuild, and prove it.

    python -m export.import_blazeface [--tflite PATH] [--out models/detector]

Without --tflite it fetches the mediapipe 0.10.14 wheel from PyPI (`pip download --no-deps`, the
only release that still ships `face_detection_short_range.tflite`) into a temporary folder: always
the same file (the CPython 3.11 manylinux x86_64 build, whatever machine runs this), which pip
downloads with --require-hashes against MEDIAPIPE_WHEEL_SHA256 and this script checks again
before opening it; the .tflite, fetched or given, must match TFLITE_SHA256. A mismatch (pip's
"THESE PACKAGES DO NOT MATCH THE HASHES", or this script's "hash mismatch") stops it with exit
status 1 before anything is read from the file. The result, `models/detector/blazeface.keras`, is
committed, so nothing downloads at run time. The script fails unless the Keras model reproduces
TensorFlow Lite's outputs on random and real images (max |difference| below 1e-3 on logits and
regressors).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from facecheck.detector import BLOCKS, DETECTOR_DIR, DETECTOR_FILE, build_blazeface
from facecheck.images import load_image

TFLITE_IN_WHEEL = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
# The one file fetched, pinned by its sha256 (PyPI's own for that file; issue #26, supply chain).
MEDIAPIPE_WHEEL = "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
MEDIAPIPE_WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
# face_detection_short_range.tflite inside it (229,714 bytes).
TFLITE_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"


class HashMismatch(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str) -> Path:
    """`path` if its sha256 is `expected`; HashMismatch (naming both) otherwise."""
    actual = sha256_file(path)
    if actual != expected:
        raise HashMismatch(f"{path.name}: sha256 {actual}, expected {expected}; refusing to use it")
    return path


def fetch_tflite(workdir: Path) -> Path:
    reqs = workdir / "mediapipe-requirements.txt"
    reqs.write_text(f"mediapipe==0.10.14 --hash=sha256:{MEDIAPIPE_WHEEL_SHA256}\n")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--require-hashes", "--platform", "manylinux_2_17_x86_64",
                    "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                    "-r", str(reqs), "-d", str(workdir)], check=True)
    wheel = verify(workdir / MEDIAPIPE_WHEEL, MEDIAPIPE_WHEEL_SHA256)
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(TFLITE_IN_WHEEL, workdir)
    return workdir / TFLITE_IN_WHEEL


def tflite_weights(path: Path) -> tuple[dict[str, np.ndarray], object]:
    interp = tf.lite.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    weights = {}
    for t in interp.get_tensor_details():
        name = t["name"]
        if name.endswith("/Kernel") or name.endswith("/Bias"):
            weights[name] = interp.get_tensor(t["index"]).astype(np.float32)
    return weights, interp


def copy_weights(model, w: dict[str, np.ndarray]) -> None:
    def conv(layer, prefix):
        k = w[f"{prefix}/Kernel"]                      # (out, kh, kw, in)
        layer.set_weights([k.transpose(1, 2, 3, 0), w[f"{prefix}/Bias"]])

    conv(model.get_layer("stem"), "conv2d")
    for i in range(len(BLOCKS)):
        dw = w[f"depthwise_conv2d{'' if i == 0 else f'_{i}'}/Kernel"]   # (1, kh, kw, c)
        model.get_layer(f"block{i}_dw").set_weights(
            [dw[0][..., None], w[f"depthwise_conv2d{'' if i == 0 else f'_{i}'}/Bias"]])
        conv(model.get_layer(f"block{i}_pw"), f"conv2d_{i + 1}")
    for grid in (8, 16):
        conv(model.get_layer(f"classificator_{grid}"), f"classificator_{grid}")
        conv(model.get_layer(f"regressor_{grid}"), f"regressor_{grid}")


def compare(model, interp, images: np.ndarray) -> float:
    inp = interp.get_input_details()[0]["index"]
    outs = {o["name"]: o["index"] for o in interp.get_output_details()}
    worst = 0.0
    for img in images:
        interp.set_tensor(inp, (img[None] / 127.5 - 1.0).astype(np.float32))
        interp.invoke()
        reg_ref = interp.get_tensor(outs["regressors"])
        cls_ref = interp.get_tensor(outs["classificators"])
        reg, cls = model(img[None].astype(np.float32), training=False)
        worst = max(worst, float(np.abs(np.asarray(reg) - reg_ref).max()),
                    float(np.abs(np.asarray(cls) - cls_ref).max()))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflite", type=Path,
                    help="face_detection_short_range.tflite, checked against TFLITE_SHA256 "
                         "(default: fetch it from PyPI)")
    ap.add_argument("--out", type=Path, default=DETECTOR_DIR, help="folder for blazeface.keras")
    ap.add_argument("--check-images", type=Path, nargs="*", default=[],
                    help="real images to compare on as well (any size; centre-cropped)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = verify(args.tflite or fetch_tflite(Path(tmp)), TFLITE_SHA256)
        except HashMismatch as e:
            print(f"hash mismatch: {e}", file=sys.stderr)
            return 1
        except subprocess.CalledProcessError as e:
            print(f"pip download of mediapipe failed (exit status {e.returncode}; pip says why above)",
                  file=sys.stderr)
            return 1
        weights, interp = tflite_weights(path)
        model = build_blazeface()
        copy_weights(model, weights)

        rng = np.random.default_rng(0)
        images = [rng.uniform(0, 255, (128, 128, 3)) for _ in range(4)]
        for p in args.check_images:
            img = load_image(p)
            images.append(tf.image.resize(img, (128, 128), antialias=True).numpy())
        worst = compare(model, interp, np.stack(images).astype(np.float32))
        print(f"max |keras - tflite| over {len(images)} images: {worst:.2e}")
        if worst > 1e-3:
            print("mismatch: not writing the model", file=sys.stderr)
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / DETECTOR_FILE)
    print(f"wrote {args.out / DETECTOR_FILE} ({model.count_params():,} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
