"""TF.js weight quantisation, measured: the browser's p_fake against Python's, per export variant.

    python benchmarks/quantisation.py --model runs/v3/NAME --uint8 '*/head_1/*' [--uint8 ...] \
        --out benchmarks/results/quantisation-NAME.md

Issue #27: 1-byte weights can wreck a pretrained backbone's features, so each choice is measured
before it ships. The model is exported by the real export command once per variant (float16, then
float16 with the named weights stored as uint8), the parity test's files (tests/test_parity.py:
both classes, PNG, a montage, a large portrait, a thumbnail, face-free pictures) go through
extension/src/predictor.js in headless Chromium (wasm), and every face's p_fake is compared with
the Python predictor's: the largest and mean |delta p_fake|, verdicts that differ, and the
classifier's weights, raw and zipped (what the extension zip pays).
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from facecheck.images import load_image  # noqa: E402
from facecheck.predictor import Predictor  # noqa: E402
from tests.browser import run_js_predictor  # noqa: E402
from tests.test_parity import parity_cases  # noqa: E402


def zipped_bytes(folder: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.glob("*")):
            z.write(f, f.name)
    return len(buf.getvalue())


def compare(python: dict[str, list], js: dict) -> dict:
    """|delta p_fake| per face and verdict flips, Python vs the browser."""
    dps, flips, faces = [], 0, 0
    for item in js["items"]:
        py, jsr = python[item["path"]], item["result"]
        flips += py["verdict"] != jsr["verdict"]
        for fp, fj in zip(py["faces"], jsr["faces"], strict=False):
            if fp["p_fake"] is not None and fj["p_fake"] is not None:
                dps.append(abs(fp["p_fake"] - fj["p_fake"]))
                faces += 1
    return {"faces": faces, "max_dp": float(np.max(dps)), "mean_dp": float(np.mean(dps)),
            "verdicts_differ": int(flips), "files": len(js["items"])}


def measure(model: Path, variants: list[str], work: Path) -> dict[str, dict]:
    files = parity_cases(work)
    predictor = Predictor.load(model)
    python = {str(f): predictor.predict(load_image(f)) for f in files}
    out = {}
    for uint8 in variants:
        export = work / f"export-{len(out)}"
        subprocess.run([sys.executable, "-m", "export.tfjs", "--model", str(model), "--out", str(export),
                        *(["--uint8", uint8] if uint8 else [])], check=True, cwd=ROOT, capture_output=True)
        row = compare(python, run_js_predictor(export, files))
        info = json.loads((export / "export.json").read_text())["classifier"]
        row.update(weights_bytes=info["weights_bytes"], zipped_bytes=zipped_bytes(export / "classifier"))
        out[uint8 or "float16"] = row
        print(f"{uint8 or 'float16'}: {row}", file=sys.stderr)
    return out


def render(model: Path, rows: dict[str, dict], command: str) -> str:
    lines = ["# TF.js weight quantisation: browser vs Python", "", f"Command: `{command}`", "",
             f"Model: `{model}`. Every variant is float16 except the weights named (1-byte affine). "
             "|dp|: |p_fake in Chromium (wasm) - p_fake in Python| per face; the parity test allows 0.01.",
             "", "| weights | files | faces | max abs dp | mean abs dp | verdicts differ | classifier MB "
             "| zipped MB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        label = "float16" if name == "float16" else f"float16, `{name}` uint8"
        mb = f"{r['weights_bytes'] / 1e6:.2f} | {r['zipped_bytes'] / 1e6:.2f}"
        lines.append(f"| {label} | {r['files']} | {r['faces']} | {r['max_dp']:.4f} | {r['mean_dp']:.4f} | "
                     f"{r['verdicts_differ']} | {mb} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="model folder (model.keras + contract.json)")
    ap.add_argument("--uint8", action="append", default=[], metavar="NAMES",
                    help="a variant: these TF.js weight names (comma-separated, * wildcards) in uint8")
    ap.add_argument("--out", type=Path, help="markdown table to write (and a .json beside it)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(args.model, ["", *args.uint8], Path(tmp))
    text = render(args.model, rows, "python benchmarks/quantisation.py " +
                  shlex.join(sys.argv[1:] if argv is None else argv))
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
