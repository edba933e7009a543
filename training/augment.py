"""Training-time augmentation, as TensorFlow graph ops inside the tf.data pipeline.

Applied to the training split only, identically for both classes. Every random draw is stateless
and seeded by (run seed, element index), so a run is reproducible.

Policies:
- "facecheck": the reference project's (blur, flip, small rotations, brightness, shifts) plus what
  the literature found matters for unseen generators and web copies: random framing (tight crops
  and zoomed-out copies for both classes, against the UTKFace framing shortcut),
  colour jitter, down-then-up rescaling and JPEG re-compression at random quality, and
  *background flattening*: on a share of images of BOTH classes, everything outside a soft
  face-centred ellipse is replaced by a plain studio-like backdrop. The pool's only plain-background
  faces are generated (the CFD inversions), so without it "plain backdrop" would mean "fake" and
  passport-style real headshots would be flagged; and on another share, *background defocus*: the
  surroundings blurred as by a portrait lens, since the pool's bokeh is mostly on real photos.
- "reference": the reference project's recipe only.
- "light": the reference recipe plus the web copy (down-then-up rescaling, JPEG re-compression at
  random quality), for both classes: what a pretrained backbone's short fine-tune gets (issue #27).
"""

from __future__ import annotations

import math

import tensorflow as tf

from facecheck.contract import Contract
from facecheck.preprocess import resize

POLICIES = ("facecheck", "reference", "light")


class _Draws:
    """Stateless random numbers from one per-element seed."""

    def __init__(self, seed):
        self.seeds = tf.random.experimental.stateless_split(seed, 64)
        self.i = 0

    def uniform(self, lo=0.0, hi=1.0, shape=()):
        s = self.seeds[self.i]
        self.i += 1
        return tf.random.stateless_uniform(shape, s, lo, hi)

    def chance(self, p):
        return self.uniform() < p


def _rotate(img, angle_rad):
    size = tf.cast(tf.shape(img)[0], tf.float32)
    c = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle_rad), tf.sin(angle_rad)
    transform = tf.stack([cos, -sin, c - cos * c + sin * c,
                          sin, cos, c - sin * c - cos * c, 0.0, 0.0])[None]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=img[None], transforms=transform, output_shape=tf.shape(img)[:2],
        interpolation="BILINEAR", fill_mode="REFLECT", fill_value=0.0)[0]


def _gaussian_blur(img, sigma):
    radius = 4
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-(x**2) / (2.0 * sigma**2))
    k = k / tf.reduce_sum(k)
    kernel = tf.tile((k[:, None] * k[None, :])[:, :, None, None], [1, 1, 3, 1])
    padded = tf.pad(img[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")[0]


def _face_mask(img, d: _Draws):
    """A soft face-centred ellipse: 1 on the face, 0 on the surroundings."""
    n = tf.cast(tf.shape(img)[0], tf.float32)
    yy, xx = tf.meshgrid(tf.range(n), tf.range(n), indexing="ij")
    cx = n * d.uniform(0.46, 0.54)
    cy = n * d.uniform(0.44, 0.54)
    rx = n * d.uniform(0.36, 0.46)
    ry = n * d.uniform(0.46, 0.58)
    dist = tf.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return tf.sigmoid((1.0 - dist) / d.uniform(0.02, 0.08))[:, :, None], yy / n


def _flatten_background(img, d: _Draws):
    mask, rows = _face_mask(img, d)
    # Mostly white / light grey backdrops (passport and studio photos), sometimes any colour.
    grey = d.uniform(170.0, 255.0)
    tint = d.uniform(-12.0, 12.0, (3,))
    any_colour = d.uniform(0.0, 255.0, (3,))
    colour = tf.where(d.chance(0.7), grey + tint, any_colour)
    gradient = d.uniform(-25.0, 25.0) * (rows - 0.5)[:, :, None]
    noise = tf.random.stateless_normal(tf.shape(img), d.seeds[d.i], stddev=d.uniform(0.5, 3.0))
    d.i += 1
    backdrop = tf.clip_by_value(colour[None, None, :] + gradient + noise, 0.0, 255.0)
    return img * mask + backdrop * (1.0 - mask)


def _blurred(img, d: _Draws, least: float = 0.05):
    """The picture heavily blurred: shrunk to `least`-20 % of its side by area averaging, then
    enlarged back bilinearly (a smooth, cheap stand-in for a wide lens blur)."""
    n = tf.shape(img)[0]
    small = tf.maximum(4, tf.cast(tf.round(tf.cast(n, tf.float32) * d.uniform(least, 0.2)), tf.int32))
    return tf.image.resize(tf.image.resize(img[None], (small, small), "area"), (n, n), "bilinear")[0]


def _defocus_background(img, d: _Draws):
    """Blur everything around the face, as a portrait lens's shallow depth of field does.

    Without it, the model read a defocused background as "real" (FFHQ photos have bokeh, most
    generated faces in the pool do not): generated faces pasted on, or rendered with, blurred
    surroundings were called real (benchmarks/shortcuts.py)."""
    mask, _ = _face_mask(img, d)
    return img * mask + _blurred(img, d, least=0.06) * (1.0 - mask)


def _border_jitter(img, d: _Draws, contract: Contract):
    """Shrink the crop by 2-10 % and fill the freed border with something else: a mirror of the
    crop's own edge, a blurred copy of it, or a flat colour.

    A crop cut from a picture larger than the face photo takes in a few pixels beyond the photo's
    own edge; the pool's crops, shrunk to fit 160-pixel pictures, mostly end exactly at it. A model
    that read the generator's image border lost a quarter of its fake-acc when a 2-pixel band of
    anything was added (benchmarks/shortcuts.py, zoomed-out probes). Both classes alike."""
    out = tf.shape(img)[0]
    outf = tf.cast(out, tf.float32)
    inner = tf.cast(tf.round(outf * d.uniform(0.9, 0.98)), tf.int32)
    small = resize(img, inner, contract)
    ox = tf.cast(tf.floor(d.uniform() * tf.cast(out - inner + 1, tf.float32)), tf.int32)
    oy = tf.cast(tf.floor(d.uniform() * tf.cast(out - inner + 1, tf.float32)), tf.int32)
    pads = [[oy, out - inner - oy], [ox, out - inner - ox], [0, 0]]
    kind = d.uniform()
    # Each fill is computed only on its own branch.
    fill = tf.case([(kind < 0.4, lambda: tf.pad(small, pads, "SYMMETRIC")),
                    (kind < 0.8, lambda: _blurred(img, d))],
                   default=lambda: tf.ones_like(img) * d.uniform(0.0, 255.0, (3,))[None, None, :])
    mask = tf.pad(tf.ones_like(small[:, :, :1]), pads)
    return tf.pad(small, pads) * mask + fill * (1.0 - mask)


def _quality_drop(img, d: _Draws, contract: Contract):
    """What a picture loses on its way through phones, ID scanners and the web: a lower
    resolution (down, then back up), JPEG re-compression at a low quality, and sensor noise,
    each drawn on its own.

    Applied to more fakes than reals (make_augment's quality_match): every generated face in the
    pool is a clean render downscaled from 1024 px, while most of its added real sources are small
    ID, news and phone pictures, so without it "clean and sharp" would mean "generated" and
    professional headshots would be accused (issue #15)."""
    out = tf.shape(img)[0]
    small = tf.cast(tf.round(tf.cast(out, tf.float32) * d.uniform(0.4, 0.85)), tf.int32)
    img = tf.cond(d.chance(0.7),
                  lambda: tf.image.resize(resize(img, small, contract), (out, out), "bilinear"),
                  lambda: img)
    noise = tf.random.stateless_normal(tf.shape(img), d.seeds[d.i], stddev=d.uniform(1.0, 4.0))
    d.i += 1
    img = tf.cond(d.chance(0.3), lambda: img + noise, lambda: img)
    quality = tf.cast(d.uniform(30.0, 85.0), tf.int32)
    return tf.cond(
        d.chance(0.7),
        lambda: tf.cast(tf.image.adjust_jpeg_quality(
            tf.cast(tf.round(tf.clip_by_value(img, 0, 255)), tf.uint8), quality), tf.float32),
        lambda: tf.clip_by_value(img, 0.0, 255.0))


def make_augment(contract: Contract, policy: str = "facecheck", border_jitter: float = 0.0,
                 quality_match: tuple[float, float] = (0.0, 0.0), backdrop_swap: float = 0.0):
    """Return fn(uint8 square image, int64 seed pair, label) -> float32 model input in [0, 255].

    border_jitter: share of crops given a foreign border (_border_jitter); off by default.
    quality_match: (share of reals, share of fakes) given a _quality_drop at the end; off by
    default. More fakes than reals, so that both classes' picture quality spreads alike.
    backdrop_swap: share of crops of both classes whose flat backdrop, where they have one, is
    replaced by a busy blurred field or a gradient (_swap_backdrop); off by default (no draw is
    taken then, so runs without it see what they saw before).

    The steps run in a fixed order and each takes its draws from the element's one _Draws in
    turn, so a step's draws depend on every step before it: reordering steps changes every
    augmentation after them (and what a resumed run sees)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown augmentation policy {policy!r}")
    out = contract.input_size
    full = policy == "facecheck"
    web_copy = policy in ("facecheck", "light")

    def augment(image, seed, label=None):
        d = _Draws(seed)
        img = tf.cast(image, tf.float32)
        if backdrop_swap > 0:
            img = tf.cond(d.chance(backdrop_swap), lambda: _swap_backdrop(img, d), lambda: img)
        if full:
            img = _background(img, d)
        img = _random_rotation(img, d, full)
        img = _random_framing(img, d, full, contract)
        if border_jitter > 0:
            img = tf.cond(d.chance(border_jitter), lambda: _border_jitter(img, d, contract),
                          lambda: img)
            img = tf.ensure_shape(img, (out, out, 3))
        img = tf.cond(d.chance(0.5), lambda: tf.image.flip_left_right(img), lambda: img)
        img = _photometric(img, d, full)
        if web_copy:
            img = _web_copy(img, d, contract)
        if label is not None and max(quality_match) > 0:
            share = tf.where(tf.cast(label, tf.float32) > 0.5, quality_match[1], quality_match[0])
            img = tf.cond(d.uniform() < share, lambda: _quality_drop(img, d, contract), lambda: img)
        return tf.ensure_shape(tf.clip_by_value(img, 0.0, 255.0), (out, out, 3))

    return augment


def _flat_backdrop_mask(img, tolerance: float = 18.0):
    """1 where a pixel is within `tolerance` of the border's median colour (per channel), cleaned
    by a 5x5 opening and softened: the plain backdrop of a studio-style picture."""
    border = tf.concat([img[0], img[-1], img[:, 0], img[:, -1]], axis=0)
    median = tf.sort(border, axis=0)[tf.shape(border)[0] // 2]
    near = tf.cast(tf.reduce_max(tf.abs(img - median), axis=-1) < tolerance, tf.float32)[None, :, :, None]
    opened = tf.nn.max_pool2d(-tf.nn.max_pool2d(-near, 5, 1, "SAME"), 5, 1, "SAME")
    return tf.nn.avg_pool2d(opened, 3, 1, "SAME")[0]


def _swap_backdrop(img, d: _Draws, least: float = 0.15):
    """Issue #27: the pool's only plain-backdrop fakes are the CFD inversions, so "plain backdrop"
    can come to mean "generated" and studio portraits of real people get accused. Where at least
    `least` of the crop is flat backdrop, it becomes a busy out-of-focus field (random colours,
    smoothly enlarged) or a two-colour gradient, for both classes alike."""
    mask = _flat_backdrop_mask(img)
    n = tf.shape(img)[0]
    field = tf.image.resize(d.uniform(30.0, 225.0, (1, 4, 4, 3)), (n, n), "bicubic")[0]
    grey = tf.reduce_mean(field, axis=-1, keepdims=True)
    field = grey + 0.5 * (field - grey)  # muted, as out-of-focus surroundings are
    ends = d.uniform(20.0, 235.0, (2, 3))
    t = tf.linspace(0.0, 1.0, n)[:, None, None]
    gradient = ends[0] * (1.0 - t) + ends[1] * t + tf.zeros_like(img)
    backdrop = tf.clip_by_value(tf.where(d.chance(0.5), field, gradient), 0.0, 255.0)
    swapped = img * (1.0 - mask) + backdrop * mask
    return tf.where(tf.reduce_mean(mask) >= least, swapped, img)


def _background(img, d: _Draws):
    """A plain studio-like backdrop behind 20 % of faces, a defocused one behind 15 %."""
    background = d.uniform()
    return tf.case([(background < 0.2, lambda: _flatten_background(img, d)),
                    (background < 0.35, lambda: _defocus_background(img, d))],
                   default=lambda: img)


def _random_rotation(img, d: _Draws, full: bool):
    max_deg = 10.0 if full else 15.0
    angle = d.uniform(-max_deg, max_deg) * (math.pi / 180.0)
    return tf.cond(d.chance(0.2 if full else 0.5), lambda: _rotate(img, angle), lambda: img)


def _random_framing(img, d: _Draws, full: bool, contract: Contract):
    """A random square of the picture, resized to the model's input with the contract's op.

    The detector's crop rule gives most faces the pool's framing, but a face that fills its
    picture (the UTKFace reals, many web portraits) is cut tighter, since crops are never padded.
    So 25 % of crops are tighter (down to the UTKFace framing), for both classes alike, and the
    rest stay close to the rule's framing and are only downscaled, like photos at inference. Never
    zoomed out far: inference crops never hold padding. But a crop of a picture inside a larger
    one takes in a few pixels beyond the picture's edge, which border jitter covers."""
    out = contract.input_size
    n = tf.shape(img)[0]
    if full:
        frac = tf.where(d.chance(0.25), d.uniform(0.6, 0.88), d.uniform(0.88, 1.0))
    else:  # the reference recipe: small shifts only
        frac = d.uniform(0.88, 1.0)
    side = tf.cast(tf.round(tf.cast(n, tf.float32) * frac), tf.int32)
    ox = tf.cast(tf.floor(d.uniform() * tf.cast(n - side + 1, tf.float32)), tf.int32)
    oy = tf.cast(tf.floor(d.uniform() * tf.cast(n - side + 1, tf.float32)), tf.int32)
    img = tf.image.crop_to_bounding_box(img, oy, ox, side, side)
    return tf.ensure_shape(resize(img, out, contract), (out, out, 3))


def _photometric(img, d: _Draws, full: bool):
    """Brightness, then (facecheck policy) contrast and saturation, then blur."""
    img = img + d.uniform(-20.0, 20.0)
    if full:
        img = tf.cond(d.chance(0.8), lambda: _colour_jitter(img, d), lambda: img)
    img = tf.clip_by_value(img, 0.0, 255.0)
    return tf.cond(d.chance(0.1 if full else 0.3),
                   lambda: _gaussian_blur(img, d.uniform(0.3, 1.5)), lambda: img)


def _colour_jitter(img, d: _Draws):
    mean = tf.reduce_mean(img, axis=[0, 1], keepdims=True)
    img = (img - mean) * d.uniform(0.8, 1.25) + mean  # contrast
    grey = tf.reduce_mean(img, axis=-1, keepdims=True)
    return (img - grey) * d.uniform(0.7, 1.3) + grey  # saturation


def _web_copy(img, d: _Draws, contract: Contract):
    """What a web copy goes through: down-then-up rescaling (15 %), JPEG re-compression (35 %)."""
    out = contract.input_size
    small = tf.cast(tf.round(out * d.uniform(0.35, 0.8)), tf.int32)
    img = tf.cond(
        d.chance(0.15),
        lambda: tf.image.resize(resize(img, small, contract), (out, out), "bilinear"),
        lambda: img)
    quality = tf.cast(d.uniform(40.0, 96.0), tf.int32)
    return tf.cond(
        d.chance(0.35),
        lambda: tf.cast(tf.image.adjust_jpeg_quality(
            tf.cast(tf.round(tf.clip_by_value(img, 0, 255)), tf.uint8), quality), tf.float32),
        lambda: img)
