"""Evidence maps: where in each face the model sees traces of generation (occlusion, no gradients).

    facecheck explain PATH... --out DIR       # <stem>.heat.npy + <stem>.heat.png, a line per face

    from facecheck.explain import explain
    result = explain(predictor, load_image("a.jpg"))
    result["heat"]              # float32, the picture's H x W: > 0 where the face looks generated
    result["faces"][0]["heat"]  # float32, input_size x input_size: the same over the judged square

The algorithm, step by step (the browser's twin must do exactly this; it needs the model's forward
pass and a few tensor ops, never a gradient, so the TF.js graph model can run it):

1. Faces and their squares from the predictor (`Predictor.find_faces`); a face too small to judge
   has no map. Each judged square becomes the model's own input `x` (`preprocess.model_input`:
   S x S x 3 float32, S = the contract's input_size).
2. The fill: `x` blurred, two passes of a 5 x 5 mean filter with stride 1 and "SAME" padding that
   averages only the pixels inside the crop (`tf.nn.avg_pool2d`; TF.js `tf.avgPool` does the same).
   With fill="grey" the fill is the middle of the contract's value range instead.
3. Windows: side P = round(S * patch) (default 1/4: 32 px at S = 128), top-left corners at
   0, T, 2T, ... with T = round(S * stride) (default 3/16: 24 px), plus S - P when the last one
   stops short, on each axis: 5 x 5 = 25 windows at the defaults, covering every pixel.
4. One batch: `x` and, per window, `x` with that window replaced by the fill; through the
   predictor's logits (mirror averaging included when the contract says so) and the contract's
   calibration: p_0 for `x`, p_k for each occluded copy.
5. The face's map, S x S: at each pixel the mean of (p_0 - p_k) over the windows k that cover it.
   Positive: hiding that part lowers p_fake (evidence of generation); negative: hiding it raises
   p_fake (the part looks real).
6. The picture's map, H x W, zeros outside the judged squares: each face's S x S map resized to
   its square's side (bilinear, half-pixel centres, edges clamped, no antialiasing, whether it
   grows or shrinks) and put at its square; where squares overlap, the value of larger magnitude
   wins.

Every face of a picture goes to the model in one batched call (1 + 25 inputs per face at the
defaults). `heat_png` colours a face's map for the server and the drop page: red where the face
looks generated, blue where it looks real, transparent where it does not matter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# The colour scale's floor, in p_fake: a map whose strongest value is weaker than this is drawn
# faint, so that the noise of a confident verdict is never shown as strong evidence.
MIN_SCALE = 0.05
# The windows (step 3): side and step as shares of the input's side. A step of 3/16 (5 x 5
# windows) measured as faithful as 1/8 (7 x 7) at half the model inputs (benchmarks/explain.py:
# ratio 9.11 vs 8.32), which keeps the browser's "Why?" within its time.
PATCH, STRIDE = 0.25, 0.1875
# Mean filter side and passes of the blurred fill (step 2 above).
BLUR_SIDE, BLUR_PASSES = 5, 2
FILLS = ("blur", "grey")


# -- the maps ---------------------------------------------------------------------------------
def windows(size: int, patch: float = PATCH, stride: float = STRIDE) -> list[int]:
    """Top-left offsets, on one axis, of the occluding windows (step 3)."""
    side = max(1, min(size, round(size * patch)))
    step = max(1, round(size * stride))
    starts = list(range(0, size - side + 1, step))
    if starts[-1] != size - side:
        starts.append(size - side)
    return starts


def fill_for(x: np.ndarray, contract, fill: str = "blur") -> np.ndarray:
    """What replaces an occluded window: `x` blurred, or the middle grey of the value range (step 2)."""
    if fill == "grey":
        lo, hi = contract.value_range
        return np.full_like(x, (lo + hi) / 2.0)
    if fill != "blur":
        raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
    import tensorflow as tf

    out = tf.convert_to_tensor(x[None])
    for _ in range(BLUR_PASSES):
        out = tf.nn.avg_pool2d(out, BLUR_SIDE, 1, "SAME")
    return out.numpy()[0]


def face_map(predictor, x: np.ndarray, patch: float = PATCH, stride: float = STRIDE,
             fill: str = "blur") -> tuple[float, np.ndarray]:
    """One face's model input -> (p_fake, its S x S map): steps 2 to 5 in one model call."""
    p, maps = face_maps(predictor, [x], patch, stride, fill)
    return p[0], maps[0]


def face_maps(predictor, inputs: list[np.ndarray], patch: float = PATCH, stride: float = STRIDE,
              fill: str = "blur") -> tuple[list[float], list[np.ndarray]]:
    """Several faces' model inputs -> (p_fake of each, map of each), in one batched model call."""
    if not inputs:
        return [], []
    size = inputs[0].shape[0]
    side = max(1, min(size, round(size * patch)))
    corners = [(y, x) for y in windows(size, patch, stride) for x in windows(size, patch, stride)]
    batch = []
    for x in inputs:
        filler = fill_for(x, predictor.contract, fill)
        batch.append(x)
        for y0, x0 in corners:
            hidden = x.copy()
            hidden[y0:y0 + side, x0:x0 + side] = filler[y0:y0 + side, x0:x0 + side]
            batch.append(hidden)
    probs = predictor.contract.probability(predictor.logits(np.stack(batch)))
    probs = probs.reshape(len(inputs), 1 + len(corners))
    cover = np.zeros((size, size), np.float64)
    for y0, x0 in corners:
        cover[y0:y0 + side, x0:x0 + side] += 1.0
    maps = []
    for row in probs:
        total = np.zeros((size, size), np.float64)
        for (y0, x0), p in zip(corners, row[1:], strict=True):
            total[y0:y0 + side, x0:x0 + side] += row[0] - p
        maps.append((total / cover).astype(np.float32))
    return [float(row[0]) for row in probs], maps


def resize_map(heat: np.ndarray, side: int) -> np.ndarray:
    """An S x S map at `side` x `side`: bilinear, half-pixel centres, edges clamped, no
    antialiasing (step 6; TF.js `tf.image.resizeBilinear(map, [side, side], false, true)`)."""
    size = heat.shape[0]
    at = np.clip((np.arange(side) + 0.5) * (size / side) - 0.5, 0.0, size - 1.0)
    lo = np.floor(at).astype(int)
    hi = np.minimum(lo + 1, size - 1)
    f = (at - lo).astype(np.float32)
    rows = heat[lo] * (1 - f)[:, None] + heat[hi] * f[:, None]
    return (rows[:, lo] * (1 - f)[None, :] + rows[:, hi] * f[None, :]).astype(np.float32)


def place(picture: np.ndarray, heat: np.ndarray, square) -> None:
    """Put a face's map (already at its square's side) into the picture's map, in place; where
    squares overlap, the value of larger magnitude wins (step 6)."""
    x0, y0, w, h = (int(v) for v in square)
    region = picture[y0:y0 + h, x0:x0 + w]
    np.copyto(region, heat, where=np.abs(heat) > np.abs(region))


def explain(predictor, image: np.ndarray, patch: float = PATCH, stride: float = STRIDE,
            fill: str = "blur") -> dict:
    """The predictor's result for one RGB uint8 picture, with the maps: "heat" (float32, H x W,
    zeros outside the judged squares) and each judged face's "heat" (float32, S x S); a face too
    small to judge has "heat": None."""
    from facecheck.preprocess import model_input

    faces = predictor.find_faces([image])[0]
    judged = [i for i, f in enumerate(faces) if f["square"] is not None]
    inputs = [model_input(image, predictor.contract, faces[i]["square"])[0] for i in judged]
    probs, maps = face_maps(predictor, inputs, patch, stride, fill)
    p_of = dict(zip(judged, probs, strict=True))
    result = predictor._result(faces, [p_of.get(i) for i in range(len(faces))])
    picture = np.zeros(image.shape[:2], np.float32)
    for face in result["faces"]:
        face["heat"] = None
    for i, heat in zip(judged, maps, strict=True):
        result["faces"][i]["heat"] = heat
        square = faces[i]["square"]
        place(picture, resize_map(heat, int(square[2])), square)
    result["heat"] = picture
    return result


# -- pictures of the maps -------------------------------------------------------------------------
def colour_scale(heat: np.ndarray) -> float:
    """The map value drawn at full strength: its largest magnitude, at least MIN_SCALE."""
    return max(float(np.max(np.abs(heat))) if heat.size else 0.0, MIN_SCALE)


def heat_rgba(heat: np.ndarray, scale: float | None = None) -> np.ndarray:
    """A map as an RGBA uint8 overlay: red where > 0 (looks generated), blue where < 0 (looks
    real), opacity growing with the magnitude up to 80% at `scale` (default colour_scale)."""
    scale = colour_scale(heat) if scale is None else scale
    strength = np.clip(np.abs(heat) / scale, 0.0, 1.0)
    out = np.zeros((*heat.shape, 4), np.uint8)
    positive = heat > 0
    out[..., 0] = np.where(positive, 230, 30)
    out[..., 1] = np.where(positive, 40, 110)
    out[..., 2] = np.where(positive, 30, 230)
    out[..., 3] = np.round(strength * 204).astype(np.uint8)
    return out


def heat_png(heat: np.ndarray, scale: float | None = None) -> bytes:
    """A face's map as an RGBA PNG (heat_rgba), to draw stretched over the face's square."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(heat_rgba(heat, scale), "RGBA").save(buf, "PNG", optimize=True)
    return buf.getvalue()


def overlay(image: np.ndarray, result: dict, max_side: int = 1024):
    """The picture with its map over each judged face, each face's box and p_fake: a PIL image
    (scaled down to `max_side` on the longer side)."""
    from PIL import Image, ImageDraw

    base = Image.fromarray(image).convert("RGBA")
    for face in result["faces"]:
        if face["heat"] is None:
            continue
        x0, y0, side, _ = (int(v) for v in face["crop"])
        layer = Image.fromarray(heat_rgba(resize_map(face["heat"], side)), "RGBA")
        base.alpha_composite(layer, (x0, y0))
    scale = min(1.0, max_side / max(base.size))
    if scale < 1.0:
        base = base.resize((max(1, round(base.width * scale)), max(1, round(base.height * scale))))
    draw = ImageDraw.Draw(base)
    width = max(1, round(max(base.size) / 200))
    for face in result["faces"]:
        x, y, w, h = (v * scale for v in face["box"])
        colour = (255, 255, 255, 255) if face["p_fake"] is None else (255, 230, 0, 255)
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=width)
        draw.text((x + width + 1, y + width + 1), face_label(face), fill=colour,
                  stroke_width=1, stroke_fill=(0, 0, 0, 255))
    return base.convert("RGB")


def face_label(face: dict) -> str:
    """What is written on a face's box: its p_fake as a percentage, or why it has none."""
    if face["p_fake"] is None:
        return "too small"
    return f"p_fake {100 * face['p_fake']:.0f}% ({face['verdict']})"


# -- the command ----------------------------------------------------------------------------------
def explain_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="facecheck explain",
        description="Draw where in each face the model sees traces of generation: for every "
        "picture under the given files and folders (recursive), writes OUT/<stem>.heat.npy (the "
        "map, float32, the picture's height x width: > 0 where hiding that part lowers the "
        "probability that the face is generated, < 0 where it raises it, 0 outside the judged "
        "faces) and OUT/<stem>.heat.png (the map over the picture: red looks generated, blue looks "
        "real; each face's box and probability), and prints a line per face. A map is evidence "
        "about the model, not about the picture: it shows what the model reacts to.",
        epilog="Exit status: 0 when every picture was read (a picture without a face still gets "
        "its files), 1 when some could not be read (each says why), 2 for a wrong command line.")
    ap.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the .heat.npy/.heat.png files")
    ap.add_argument("--model", metavar="DIR",
                    help="model folder with model.keras + contract.json (default: the shipped model, "
                    "or $FACECHECK_MODEL_DIR)")
    ap.add_argument("--fill", choices=FILLS, default="blur",
                    help="what hides each window: the face blurred (default) or flat grey")
    ap.add_argument("--quiet", action="store_true", help="no \"Loading model...\"")
    return ap


def out_stems(files: list[Path]) -> list[str]:
    """A file name stem per picture, unique within the run (a.jpg and a.png: a, a.png)."""
    seen: set[str] = set()
    stems = []
    for f in files:
        stem = f.stem if f.stem not in seen else f.name
        n = 2
        base = stem
        while stem in seen:
            stem, n = f"{base}-{n}", n + 1
        seen.add(stem)
        stems.append(stem)
    return stems


def main(argv=None) -> int:
    """`facecheck explain`: the maps of every picture, a line per face (see explain_parser)."""
    args = explain_parser().parse_args(argv)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"facecheck explain: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not args.quiet:
        print("Loading model...", file=sys.stderr, flush=True)
    from facecheck.tfquiet import import_tensorflow

    import_tensorflow()
    from facecheck.images import ImageError, iter_image_files, load_image
    from facecheck.predictor import Predictor

    predictor = Predictor.load(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = iter_image_files(args.paths)
    failed = 0
    for path, stem in zip(files, out_stems(files), strict=True):
        try:
            image = load_image(path)
        except ImageError as e:
            print(f"{path}: could not read: {e}")
            failed += 1
            continue
        result = explain(predictor, image, fill=args.fill)
        np.save(out / f"{stem}.heat.npy", result["heat"])
        overlay(image, result).save(out / f"{stem}.heat.png")
        for line in face_lines(path, result):
            print(line)
    return 1 if failed else 0


def face_lines(path: Path, result: dict) -> list[str]:
    """The printed lines of one picture: one per face (box, p_fake, where the map is strongest)."""
    if not result["faces"]:
        return [f"{path}: no face found"]
    lines = []
    for i, face in enumerate(result["faces"], 1):
        x, y, w, h = (round(v) for v in face["box"])
        head = f"{path}: face {i} at {x},{y} {w}x{h}"
        if face["heat"] is None:
            lines.append(f"{head}: too small to judge")
            continue
        peak = float(face["heat"].max())
        lines.append(f"{head}: p_fake {face['p_fake']:.3f} ({face['verdict']}), "
                     f"strongest evidence {peak:+.3f}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
