"""Listing and decoding labelled face images.

    python -m training.data ../shared/data/faces/manifest.csv     # counts per split/source/label

Three layouts are understood, by `list_samples(path, split)`:
- a manifest CSV with `path,label[,split][,source]` columns (paths relative to the CSV), such as
  ../shared/data/faces/manifest.csv with its fixed split;
- the Kaggle "140k real and fake faces" layout, `ROOT/{train,valid,test}/{real,fake}/`;
- a plain folder with `real/` and `fake/` subfolders (`split` is then ignored).

`load_pixels(samples)` decodes in parallel through facecheck.images (the one image loader), keeps the
contract's centred square at a fixed cache size, skips and counts files that fail, and caches the
result on disk so a second run starts in seconds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facecheck.contract import Contract
from facecheck.images import IMAGE_EXTENSIONS, ImageError, load_image

LABELS = {"real": 0, "fake": 1}
# Kaggle's 140k layout calls the validation split "valid".
SPLIT_ALIASES = {"val": ("val", "valid", "validation"), "train": ("train",), "test": ("test",)}
CACHE_DIR = Path(os.environ.get("FACECHECK_CACHE", Path.home() / ".cache" / "facecheck"))


@dataclass(frozen=True)
class Sample:
    path: str
    label: int  # 1 = fake (generated), 0 = real
    source: str


def list_samples(path: str | os.PathLike, split: str | None = None) -> list[Sample]:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return _from_manifest(path, split)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a manifest CSV or a folder")
    if split:
        for name in SPLIT_ALIASES.get(split, (split,)):
            if (path / name).is_dir():
                return _from_folder(path / name, source=path.name)
    return _from_folder(path, source=path.name)


def _from_manifest(csv_path: Path, split: str | None) -> list[Sample]:
    root = csv_path.parent
    out = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            if split and row.get("split", split) not in SPLIT_ALIASES.get(split, (split,)):
                continue
            out.append(Sample(str(root / row["path"]), LABELS[row["label"]],
                              row.get("source") or csv_path.parent.name))
    if not out:
        raise ValueError(f"{csv_path}: no rows" + (f" with split={split}" if split else ""))
    return out


def _from_folder(folder: Path, source: str) -> list[Sample]:
    out = []
    for label, y in LABELS.items():
        sub = folder / label
        if sub.is_dir():
            out.extend(Sample(str(f), y, source) for f in sorted(sub.rglob("*"))
                       if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not out:
        raise ValueError(f"{folder}: no images under real/ or fake/")
    return out


def load_pixels(samples: list[Sample], size: int, workers: int | None = None,
           cache: bool = True, progress: bool = True):
    """Decode to (images uint8 [N, size, size, 3], kept samples, failures [(path, reason)]).

    Each image is cut to its centred square and, when that is not already `size` pixels, resized
    with the contract's op. Undecodable files are skipped and returned as failures.
    """
    key = _cache_key(samples, size)
    cache_file = CACHE_DIR / f"decoded-{key}.npz"
    if cache and cache_file.exists():
        z = np.load(cache_file, allow_pickle=False)
        keep = z["keep"]
        failures = [tuple(f.split("\t", 1)) for f in z["failures"]]
        return z["images"], [samples[i] for i in keep], failures

    # facecheck.preprocess starts TensorFlow: imported only when there is decoding to do, so that
    # listing and counting samples (`python -m training.data`, tests/test_pool.py) stay quick.
    from facecheck.preprocess import centre_square, resize

    contract = Contract()

    def one(s: Sample):
        try:
            img = load_image(s.path)
        except ImageError as e:
            return None, str(e)
        x, y, w, h = centre_square(img.shape[0], img.shape[1])
        img = img[y : y + h, x : x + w]
        if img.shape[0] != size:
            img = np.clip(np.round(resize(img, size, contract).numpy()), 0, 255).astype(np.uint8)
        return img, None

    images = np.zeros((len(samples), size, size, 3), np.uint8)
    keep, failures = [], []
    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        results = pool.map(one, samples)
        if progress:
            results = tqdm(results, total=len(samples), desc="decode", unit="img", file=sys.stderr)
        for i, (img, err) in enumerate(results):
            if img is None:
                failures.append((samples[i].path, err))
            else:
                images[len(keep)] = img
                keep.append(i)
    images = images[: len(keep)]
    if failures:
        print(f"skipped {len(failures)} undecodable file(s), e.g. {failures[0]}", file=sys.stderr)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, images=images, keep=np.array(keep, np.int64),
                 failures=np.array(["\t".join(f) for f in failures], dtype=str))
        tmp.replace(cache_file)
    return images, [samples[i] for i in keep], failures


def face_crops(images: np.ndarray, samples: list[Sample], contract, size: int,
               cache: bool = True, progress: bool = True) -> tuple[np.ndarray, int]:
    """Cut every decoded image down to its face as the predictor will (the contract's crop rule).

    Returns (crops uint8 [N, size, size, 3], how many images had no face found). The largest
    face is used; an image without a detectable face keeps its whole square (the pool's images are
    face-centred already), and is counted.
    """
    if contract.crop_rule != "face-box":
        return images, 0
    key = hashlib.sha256(
        f"{_cache_key(samples, images.shape[1])}|{size}|{contract.crop_scale}|{contract.crop_shift_y}|"
        f"fit|{json.dumps(asdict(contract.detector), sort_keys=True)}".encode()).hexdigest()[:20]
    cache_file = CACHE_DIR / f"faces-{key}.npz"
    if cache and cache_file.exists():
        z = np.load(cache_file)
        return z["crops"], int(z["missing"])

    # TensorFlow's start-up, as in load_pixels().
    from facecheck.detector import Detector
    from facecheck.preprocess import cut_square, face_square, resize

    detector = Detector.load(settings=contract.detector, batch_size=64)
    crops = np.zeros((len(images), size, size, 3), np.uint8)
    missing = 0
    step = 256
    bar = None
    if progress:
        bar = tqdm(total=len(images), desc="faces", unit="img", file=sys.stderr)
    for start in range(0, len(images), step):
        chunk = images[start : start + step]
        found = detector.detect_many(list(chunk))
        for i, (img, faces) in enumerate(zip(chunk, found, strict=True)):
            if faces:
                face = max(faces, key=lambda f: f["box"][2])
                crop = cut_square(img, face_square(face["box"], contract, *img.shape[:2]))
            else:
                missing += 1
                crop = img
            out = resize(crop, size, contract).numpy()
            crops[start + i] = np.clip(np.round(out), 0, 255).astype(np.uint8)
        if bar:
            bar.update(len(chunk))
    if bar:
        bar.close()
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, crops=crops, missing=np.int64(missing))
        tmp.replace(cache_file)
    return crops, missing


def _cache_key(samples: list[Sample], size: int) -> str:
    h = hashlib.sha256(f"v1|{size}".encode())
    for s in samples:
        st = os.stat(s.path) if os.path.exists(s.path) else None
        h.update(f"{s.path}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    return h.hexdigest()[:20]


def describe(samples: list[Sample]) -> Counter:
    return Counter((s.source, "fake" if s.label else "real") for s in samples)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="manifest CSV or folder")
    args = ap.parse_args()
    for split in ("train", "val", "test"):
        try:
            samples = list_samples(args.path, split)
        except (ValueError, FileNotFoundError):
            continue
        print(f"[{split}] {len(samples)} images")
        for (src, lab), n in sorted(describe(samples).items()):
            print(f"  {src:24s} {lab:5s} {n:6d}")
