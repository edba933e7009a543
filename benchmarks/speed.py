"""Speed benchmark of the whole predictor, in Python and in the browser (warm, 2 CPU cores).

    python benchmarks/speed.py [--model models/facecheck-v1] [--out benchmarks/results/speed.md]

Python: images/s through the full pipeline (decode, face detection, crop + classification, with
the mirror-image average if the contract asks for it) for 300x300 face photos (the 32 fixture
faces, repeated), with the share of each stage. Browser: extension/src/predictor.js on TF.js's wasm
backend in headless Chromium (the extension's runtime): detection + classification for a 512x512
photo with one face, and classification alone per face (crop, resize, model), median of warm runs.
Targets (predictor issue): Python >= 150 images/s; browser <= 30 ms and <= 10 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from facecheck.contract import Contract  # noqa: E402
from facecheck.images import load_image  # noqa: E402
from facecheck.predictor import Predictor, default_model_dir  # noqa: E402
from facecheck.preprocess import model_input  # noqa: E402
from tests.browser import HARNESS, TFJS, StaticServer, launch_chromium  # noqa: E402

FACES = sorted((ROOT / "tests" / "fixtures" / "faces").rglob("*.jpg"))

BENCH_JS = """async ([url, n]) => {
  const img = await loadPicture(url);
  const times = [], cls = [];
  let res = null;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    res = await predictor.predict(img);
    times.push(performance.now() - t0);
  }
  const squares = res.faces.filter(f => f.crop).map(f => f.crop);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    predictor.logits(img, squares.slice(0, 1));
    cls.push(performance.now() - t0);
  }
  const med = a => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return {full: med(times), classify: med(cls), faces: res.faces.length, verdict: res.verdict,
          backend: tf.getBackend()};
}"""


def python_speed(model_dir: Path, repeats: int = 10) -> dict:
    blobs = [p.read_bytes() for p in FACES] * repeats
    predictor = Predictor.load(model_dir)
    predictor.predict_many([load_image(b) for b in blobs[:64]])  # warm-up (traces the functions)
    t0 = time.perf_counter()
    images = [load_image(b) for b in blobs]
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    faces = []
    for start in range(0, len(images), predictor.batch_size):
        faces += predictor.find_faces(images[start : start + predictor.batch_size])
    t_detect = time.perf_counter() - t0
    t0 = time.perf_counter()
    crops = [model_input(img, predictor.contract, f["square"])[0]
             for img, fs in zip(images, faces, strict=True) for f in fs if f["square"] is not None]
    predictor.logits(np.stack(crops))
    t_classify = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, len(blobs), predictor.batch_size):
        predictor.predict_many([load_image(b) for b in blobs[start : start + predictor.batch_size]])
    t_total = time.perf_counter() - t0
    parts = t_decode + t_detect + t_classify
    return {"images": len(blobs), "images_per_s": len(blobs) / t_total,
            "share": {"decode": t_decode / parts, "detection": t_detect / parts,
                      "crop + classification": t_classify / parts},
            "ms_per_image": {"decode": 1e3 * t_decode / len(blobs), "detection": 1e3 * t_detect / len(blobs),
                             "crop + classification": 1e3 * t_classify / len(blobs)}}


def browser_speed(model_dir: Path, runs: int = 30) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "export.tfjs", "--model", str(model_dir),
                        "--out", str(tmp / "model")], check=True, cwd=ROOT, capture_output=True)
        # A 512x512 photo with one face: a fixture face on a larger plain-ish background.
        photo = Image.new("RGB", (512, 512), (120, 130, 140))
        photo.paste(Image.open(FACES[0]).convert("RGB"), (106, 80))
        photo.save(tmp / "photo512.jpg", quality=90)
        routes = {"/tfjs/": TFJS, "/src/": ROOT / "extension" / "src", "/model/": tmp / "model",
                  "/images/": tmp}
        with StaticServer(routes, {"/harness.html": HARNESS}) as server, sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(f"{server.url}/harness.html")
            page.evaluate("setup()")
            page.evaluate(BENCH_JS, ["/images/photo512.jpg", 5])  # warm-up
            out = page.evaluate(BENCH_JS, ["/images/photo512.jpg", runs])
            browser.close()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=default_model_dir())
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.md")
    args = ap.parse_args(argv)
    py = python_speed(args.model)
    br = browser_speed(args.model)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    contract = Contract.load(args.model)
    mirror = "face + mirror image" if contract.test_time_flip else "one model call"
    load = os.getloadavg()[0]
    lines = ["# Speed benchmark", "", f"`python benchmarks/speed.py` on {os.cpu_count()} cores ({cpu}), "
             f"model {contract.model_version or args.model.name}; 1-min load average {load:.1f} "
             "at the end.", "",
             "| where | what | measured | target |", "|---|---|---|---|",
             f"| Python | full pipeline, 300x300 face photos ({py['images']} images) | "
             f"**{py['images_per_s']:.0f} images/s** | >= 150 images/s |"]
    for k, v in py["share"].items():
        lines.append(f"| Python | share: {k} | {100 * v:.0f}% ({py['ms_per_image'][k]:.2f} ms/image) | |")
    lines += [f"| Chromium, TF.js wasm ({br['backend']}) | detection + classification, 512x512 photo, "
              f"{br['faces']} face, warm median | **{br['full']:.1f} ms** | <= 30 ms |",
              f"| Chromium, TF.js wasm ({br['backend']}) | classification alone, one face (crop, resize, "
              f"{mirror}), warm median | **{br['classify']:.1f} ms** | <= 10 ms |"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
