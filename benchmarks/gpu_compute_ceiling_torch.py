"""The GPU side of benchmarks/gpu_compute_ceiling.py (its docstring says what and why): the shipped
architecture re-written in PyTorch, the recipe's augmentation on the GPU, and the training runs.

Needs PyTorch, and no TensorFlow: `gpu_compute_ceiling.py train` imports it on the GPU machine,
while `pack` runs where PyTorch is not installed.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

try:  # the GPU image may lack Pillow: torchvision's decoder reads the JPEGs then
    from PIL import Image
except ImportError:
    Image = None
try:  # without torchvision, JPEG re-compression is skipped
    from torchvision.io import decode_jpeg, encode_jpeg
except ImportError:
    decode_jpeg = encode_jpeg = None

DEV = os.environ.get("CEILING_DEVICE", "cuda")  # "cpu" for a smoke test
SOURCE_WEIGHTS = {"omi": 2.5, "utkface": 0.7, "omi_cfd_inversions": 0.6}  # the shipped defaults
CPU_BUDGET_IMAGES = 115 * 200 * 32  # what `facecheck train` sees with its defaults
PATCH_SHARE = 75 / 115


# ------------------------------------------------------------------ the network (training/model.py)

def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU(inplace=True))


def sep(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1, bias=False))


class Pair(nn.Module):
    """training/model.py's _res_pair / _sep_res_pair."""

    def __init__(self, cin, cout, separable):
        super().__init__()
        if separable:
            self.a = nn.Sequential(sep(cin, cout, 2), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
                                   nn.ReLU(inplace=True))
            self.b = nn.Sequential(sep(cout, cout), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))
        else:
            self.a = conv_bn(cin, cout, 2)
            self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))

    def forward(self, x):
        x = self.a(x)
        return torch.relu(x + self.b(x))


class FaceCheck(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(conv_bn(3, 16), conv_bn(16, 24, 2), Pair(24, 48, False),
                                  Pair(48, 96, False), Pair(96, 256, True), Pair(256, 320, True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(320, 1)

    def forward(self, x):  # x: float in [0, 255], NCHW
        x = self.body(x / 127.5 - 1.0)
        return self.head(self.drop(x.mean((2, 3))))[:, 0]


def _channels_last_net():
    return FaceCheck().to(DEV).to(memory_format=torch.channels_last)


# ------------------------------------------------------------------ data and augmentation

def _load(data: Path):
    """The packed pictures of every part in `data` (gpu_compute_ceiling.py pack), decoded."""
    rows, blobs = [], {}
    for m in sorted(data.glob("*.csv")):
        blobs[m.stem] = (data / f"{m.stem}.bin").read_bytes()
        rows += [dict(r, blob=m.stem) for r in csv.DictReader(open(m, newline=""))]

    def read(r):
        b = blobs[r["blob"]][int(r["offset"]) : int(r["offset"]) + int(r["length"])]
        if Image is None:
            return decode_jpeg(torch.frombuffer(bytearray(b), dtype=torch.uint8)).permute(1, 2, 0).numpy()
        return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), np.uint8)

    with ThreadPoolExecutor(16) as ex:
        images = list(ex.map(read, rows))
    return rows, np.stack(images)


def _sampling_weights(groups: list[tuple[str, str]]):
    """Each training image's sampling weight: class-balanced shares per (source, label) group,
    the square root of the group's size times the source weights (training/train.py:
    sampling_shares), split evenly over the group's images."""
    count = {g: groups.count(g) for g in set(groups)}
    raw = {g: math.sqrt(c) * SOURCE_WEIGHTS.get(g[0], 1.0) for g, c in count.items()}
    share = {}
    for label in ("real", "fake"):
        tot = sum(v for g, v in raw.items() if g[1] == label)
        share.update({g: 0.5 * v / tot for g, v in raw.items() if g[1] == label})
    return torch.tensor([share[g] / count[g] for g in groups], device=DEV)


def _augment(x, gen, size, jpeg):
    """x: uint8 N x 3 x 160 x 160 on the GPU -> float N x 3 x size x size, the recipe's draws."""
    n, dev = x.shape[0], x.device

    def u(lo, hi, *shape):
        return torch.rand(*(shape or (n,)), device=dev, generator=gen) * (hi - lo) + lo

    # Framing: a square of 60-100 % of the side (a quarter tight, 60-88 %), anywhere, and 20 %
    # rotated up to 10 degrees; one bilinear resample to 128 (antialiased first when shrinking).
    tight = torch.rand(n, device=dev, generator=gen) < 0.25
    frac = torch.where(tight, u(0.6, 0.88), u(0.88, 1.0))
    cx, cy = u(-1, 1) * (1 - frac), u(-1, 1) * (1 - frac)
    ang = torch.where(torch.rand(n, device=dev, generator=gen) < 0.2, u(-10, 10), torch.zeros(n, device=dev))
    ang = ang * math.pi / 180
    cos, sin = torch.cos(ang) * frac, torch.sin(ang) * frac
    theta = torch.stack([torch.stack([cos, -sin, cx], 1), torch.stack([sin, cos, cy], 1)], 1)
    img = F.interpolate(x.float(), size=(144, 144), mode="bilinear", antialias=True, align_corners=False)
    grid = F.affine_grid(theta, (n, 3, 128, 128), align_corners=False)
    img = F.grid_sample(img, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    flip = torch.rand(n, device=dev, generator=gen) < 0.5
    img = torch.where(flip[:, None, None, None], img.flip(3), img)
    img = img + u(-20, 20)[:, None, None, None]
    colour = (torch.rand(n, device=dev, generator=gen) < 0.8)[:, None, None, None]
    mean = img.mean((2, 3), keepdim=True)
    c = (img - mean) * u(0.8, 1.25)[:, None, None, None] + mean
    grey = c.mean(1, keepdim=True)
    c = (c - grey) * u(0.7, 1.3)[:, None, None, None] + grey
    img = torch.where(colour, c, img).clamp(0, 255)

    # Blur (10 %), sigma 0.3-1.5: one 9x9 Gaussian kernel per image, as a grouped convolution.
    sigma = u(0.3, 1.5)
    r = torch.arange(-4, 5, device=dev, dtype=torch.float32)
    k1 = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2))
    k1 = k1 / k1.sum(1, keepdim=True)
    k2 = (k1[:, :, None] * k1[:, None, :]).repeat_interleave(3, 0)[:, None]
    blurred = F.conv2d(F.pad(img.reshape(1, n * 3, 128, 128), (4, 4, 4, 4), mode="reflect"), k2,
                       groups=n * 3).reshape(n, 3, 128, 128)
    img = torch.where((torch.rand(n, device=dev, generator=gen) < 0.1)[:, None, None, None], blurred, img)

    # Down-then-up (15 %) to 35-80 %: one scale per batch for the chosen images.
    small = int(round(128 * float(u(0.35, 0.8, 1))))
    du = F.interpolate(F.interpolate(img, size=(small, small), mode="bilinear", antialias=True),
                       size=(128, 128), mode="bilinear")
    img = torch.where((torch.rand(n, device=dev, generator=gen) < 0.15)[:, None, None, None], du, img)

    if jpeg is not None:  # 35 %, quality 40-96
        pick = (torch.rand(n, device=dev, generator=gen) < 0.35).nonzero()[:, 0].tolist()
        if pick:
            q = int(u(40, 96, 1))
            u8 = img[pick].round().clamp(0, 255).to(torch.uint8)
            dec = jpeg(list(u8), q)
            img[pick] = torch.stack(dec).float()
    if size < 128:
        ox, oy = torch.randint(0, 129 - size, (2,), generator=gen, device=dev).tolist()
        img = img[:, :, oy : oy + size, ox : ox + size]
    return img.contiguous(memory_format=torch.channels_last)


def _gpu_jpeg(images, quality):
    """JPEG re-compression: encoded on the GPU, decoded back onto it."""
    data = [e.cpu() for e in encode_jpeg(images, quality=quality)]
    return [d.to(DEV) for d in decode_jpeg(data, device=DEV)]


def _jpeg_codec():
    """_gpu_jpeg when torchvision can encode and decode on this device, else None."""
    try:
        if encode_jpeg is None:
            raise ImportError("torchvision is not installed")
        probe = torch.zeros(2, 3, 16, 16, dtype=torch.uint8, device=DEV)
        decode_jpeg([e.cpu() for e in encode_jpeg(list(probe), quality=50)], device=DEV)
    except Exception as e:  # noqa: BLE001
        print(f"no GPU JPEG codec ({type(e).__name__}: {e}); JPEG re-compression skipped", flush=True)
        return None
    return _gpu_jpeg


# ------------------------------------------------------------------ scoring and training

def _auc(y, s):
    order = np.argsort(s)
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    pos = y == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def _score(model, x, rows):
    """Accuracy, ROC AUC, real-acc and fake-acc on the test split (its whole pictures resized to
    128), overall and per source."""
    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(DEV, torch.bfloat16):
        for i in range(0, len(x), 512):
            b = F.interpolate(x[i : i + 512].float(), size=(128, 128), mode="bilinear", antialias=True)
            out.append(model(b.contiguous(memory_format=torch.channels_last)).float().cpu())
    z = torch.cat(out).numpy()
    y = np.array([r["label"] == "fake" for r in rows], int)
    src = np.array([r["source"] for r in rows])
    res = {"all": {"n": len(y), "acc": float(((z > 0) == y).mean()), "auc": _auc(y, z),
                   "real_acc": float((z[y == 0] <= 0).mean()), "fake_acc": float((z[y == 1] > 0).mean())}}
    for s in sorted(set(src)):
        m = src == s
        r = {"n": int(m.sum()), "acc": float(((z[m] > 0) == y[m]).mean())}
        if len(set(y[m])) == 2:
            r["auc"] = _auc(y[m], z[m])
        res[s] = r
    return res


def _timed(fn, n=10):
    """Seconds per call of fn, after one warm-up call."""
    sync = torch.cuda.synchronize if DEV == "cuda" else (lambda: None)
    fn()
    sync()
    t = time.time()
    for _ in range(n):
        fn()
    sync()
    return (time.time() - t) / n


def _profile(xb0, jpeg):
    """Where a step's time goes (seconds per batch of xb0), and the JPEG codec to train with:
    None if re-compression would more than halve the throughput."""
    g0 = torch.Generator(device=DEV).manual_seed(0)
    probe_net = _channels_last_net()

    def step_on(size):
        with torch.autocast(DEV, torch.bfloat16):
            probe_net(_augment(xb0, g0, size, None)).float().mean().backward()

    profile = {"augment_128": _timed(lambda: _augment(xb0, g0, 128, None)),
               "augment_128_with_jpeg": _timed(lambda: _augment(xb0, g0, 128, jpeg)) if jpeg else None,
               "augment_and_step_64": _timed(lambda: step_on(64)),
               "augment_and_step_128": _timed(lambda: step_on(128))}
    print("seconds per batch: " + json.dumps(profile), flush=True)
    if jpeg and profile["augment_128_with_jpeg"] - profile["augment_128"] > profile["augment_and_step_128"]:
        print("JPEG re-compression would more than halve the throughput: dropped", flush=True)
        jpeg = None
    return profile, jpeg


def _lr_factor(s, warm, steps):
    """Linear warm-up, then cosine to 1 %."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))
    return min(1.0, (s + 1) / warm) * (0.01 + 0.99 * cosine)


def _fit(x_tr, y_tr, w, budget, batch, seed, jpeg, deadline):
    """A fresh network trained on `budget` times the CPU run's training images (patches first, as
    the CPU run), stopped at `deadline`; returns its weight average (BatchNorm statistics
    recomputed), the steps run, the parameter count and the seconds it took."""
    torch.manual_seed(seed)
    gen = torch.Generator(device=DEV).manual_seed(seed)
    model = _channels_last_net()
    params = sum(p.numel() for p in model.parameters())
    steps = int(budget * CPU_BUDGET_IMAGES / batch)
    patch_steps = int(steps * PATCH_SHARE)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3 * math.sqrt(batch / 32), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, functools.partial(_lr_factor, warm=max(1, steps // 115), steps=steps))
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.99 ** (batch / 32)))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t1 = time.time()
    for step in range(steps):
        idx = torch.multinomial(w, batch, replacement=True, generator=gen)
        xb = _augment(x_tr[idx], gen, 64 if step < patch_steps else 128, jpeg)
        model.train()
        with torch.autocast(DEV, torch.bfloat16):
            loss = loss_fn(model(xb).float(), y_tr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ema.update_parameters(model)
        if time.time() > deadline:
            print(f"--time-limit reached at step {step} of {steps}", flush=True)
            steps = step + 1
            break
        if step % 500 == 0 or step == steps - 1:
            print(f"budget {budget}x step {step}/{steps} loss {loss.item():.3f} "
                  f"{(step + 1) * batch / (time.time() - t1):.0f} img/s", flush=True)
    torch.optim.swa_utils.update_bn(
        ((_augment(x_tr[torch.multinomial(w, batch, generator=gen)], gen, 128, None),)
         for _ in range(50)), ema)
    return ema.module, steps, params, time.time() - t1


def train(data: Path, budgets: list[float], out: Path, batch: int, seed: int,
          time_limit: float) -> None:
    """Train at each budget in turn and score on the test split, rewriting `out` after each."""
    torch.backends.cudnn.benchmark = True
    t0 = time.time()
    rows, images = _load(data)
    print(f"loaded {len(rows)} images in {time.time() - t0:.0f}s", flush=True)
    tr = [i for i, r in enumerate(rows) if r["split"] == "train"]
    te = [i for i, r in enumerate(rows) if r["split"] == "test"]
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(DEV)
    x_tr, x_te = x_all[tr], x_all[te]
    y_tr = torch.tensor([rows[i]["label"] == "fake" for i in tr], dtype=torch.float32, device=DEV)
    w = _sampling_weights([(rows[i]["source"], rows[i]["label"]) for i in tr])
    profile, jpeg = _profile(x_tr[:batch], _jpeg_codec())

    results = {"batch": batch, "seed": seed, "jpeg_recompression": jpeg is not None, "profile": profile,
               "train_images": len(tr), "test_images": len(te), "runs": {}}
    rate = None
    for budget in budgets:
        if rate:  # shrink a budget that would not finish inside --time-limit
            fits = 0.9 * (time_limit - (time.time() - t0)) * rate / CPU_BUDGET_IMAGES
            if fits < budget:
                print(f"budget {budget}x would not fit; running {fits:.1f}x", flush=True)
                budget = round(fits, 1)
        if budget <= 0:
            break
        model, steps, params, seconds = _fit(x_tr, y_tr, w, budget, batch, seed, jpeg, t0 + time_limit)
        rate = steps * batch / seconds
        res = {"images_seen": steps * batch, "steps": steps, "parameters": params,
               "train_seconds": round(seconds, 1),
               "test": _score(model, x_te, [rows[i] for i in te]) if te else None}
        results["runs"][f"{budget}x"] = res
        print(json.dumps({f"{budget}x": res["test"] and res["test"]["all"]}), flush=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
