"""How far would more compute take the shipped architecture? A GPU experiment, not a shipped path.

    # on this machine: pack the pool's train split (in two parts, the device's carry limit) and its
    # test split into .gpu/{a,b}.{bin,csv} (.gpu/ ignored through .git/info/exclude)
    python benchmarks/gpu_compute_ceiling.py pack --data ../shared/data/faces --out .gpu
    # on a GPU machine with PyTorch (no TensorFlow there), with both parts in one folder DIR
    # (the training itself is in gpu_compute_ceiling_torch.py):
    python benchmarks/gpu_compute_ceiling.py train --data DIR --budgets 1,6 --out results.json

`facecheck train` (TensorFlow, 2 CPU cores, the 60-minute budget) sees about 0.74 M training
crops: 75 epochs of 64x64 patches, then 40 of whole crops, 200 steps of 32 each. This script
trains the same network, layer for layer (training/model.py's `facecheck`, re-written in PyTorch
because the GPU image has no TensorFlow), on the same train split with the same class balance and
source weights and the same patches-first schedule, once at that budget ("1x") and once at a
multiple of it, and scores both on the pool's `faces` test split. The gap between the two is what
compute alone buys.

What is not the same, so read the two budgets against each other, not against the shipped model:
- Inputs are the pool's 160-pixel pictures cut and resized on the GPU (random crop 60-100 % of
  the side, a quarter of them tight, small rotations), not the detector's face crops; the test
  split is judged on its whole picture resized to 128, not through the predictor.
- Augmentation is the recipe's photometric part (flip, brightness, contrast, saturation, blur,
  down-then-up rescaling, and JPEG re-compression when torchvision can encode on the GPU) without
  background flattening, defocus or border jitter, which cost accuracy on this pool (README).
- Batch 128 (learning rate scaled by its square root), no validation split, the last EMA weights.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pack(data: Path, out: Path) -> None:
    """Write the train split in two halves, the test split with the second, as out/a.bin and
    out/b.bin (the JPEG files' bytes end to end: the device counts each small file's disk blocks
    against its carry limit) with out/a.csv and out/b.csv (path, label, split, source, offset,
    length)."""
    rows = list(csv.DictReader(open(data / "manifest.csv", newline="")))
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    out.mkdir(parents=True, exist_ok=True)
    for name, part in {"a": train[0::2], "b": train[1::2] + test}.items():
        offset = 0
        with open(out / f"{name}.bin", "wb") as blob, open(out / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, ["path", "label", "split", "source", "offset", "length"],
                               extrasaction="ignore")
            w.writeheader()
            for r in part:
                b = (data / r["path"]).read_bytes()
                blob.write(b)
                w.writerow({**r, "offset": offset, "length": len(b)})
                offset += len(b)
        print(f"{out / name}.bin: {len(part)} files, {offset / 2**20:.1f} MiB")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--budgets", default="1,6", help="multiples of the CPU run's training images")
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--seed", type=int, default=1337)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--time-limit", type=float, default=540, help="seconds for everything")
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        pack(a.data, a.out)
    else:
        # PyTorch is only on the GPU machine; `pack` runs on this one, where it is not installed.
        from benchmarks.gpu_compute_ceiling_torch import train

        train(a.data, [float(b) for b in a.budgets.split(",")], a.out, a.batch, a.seed, a.time_limit)


if __name__ == "__main__":
    sys.exit(main())
