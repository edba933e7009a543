"""Colour arithmetic for the accessibility tests (badges, the drop page): WCAG contrast, and how a
colour looks to people with red-green colour blindness, in CIE L*a*b*, so that tests can check
that verdict colours stay apart for them."""

from __future__ import annotations

import re

# Machado, Oliveira & Fernandes 2009, "A Physiologically-based Model for Simulation of Color Vision
# Deficiency", severity 1.0; applied to linear RGB.
MACHADO_2009 = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
}
VISIONS = ("normal", *MACHADO_2009)


def parse_rgb(css: str) -> tuple[int, int, int]:
    """'rgb(165, 0, 33)' or 'rgba(...)' -> (165, 0, 33)."""
    r, g, b = (round(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def linear_rgb(rgb: tuple[int, int, int]) -> list[float]:
    return [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    hi, lo = sorted((0.2126 * r + 0.7152 * g + 0.0722 * b_ for r, g, b_ in (linear_rgb(a), linear_rgb(b))),
                    reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(lin: list[float]) -> tuple[float, float, float]:
    """Linear sRGB -> CIE L*a*b* (D65)."""
    r, g, b = lin
    xyz = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b, 0.2126729 * r + 0.7151522 * g + 0.0721750 * b,
           0.0193339 * r + 0.1191920 * g + 0.9503041 * b)
    fx, fy, fz = (t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29
                  for t in (xyz[0] / 0.95047, xyz[1], xyz[2] / 1.08883))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def seen_as(rgb: tuple[int, int, int], vision: str) -> tuple[float, float, float]:
    """CIE L*a*b* of an sRGB colour as a person with `vision` (one of VISIONS) sees it."""
    lin = linear_rgb(rgb)
    if vision in MACHADO_2009:
        lin = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin, strict=True))))
               for row in MACHADO_2009[vision]]
    return lab(lin)


def delta_e(a, b) -> float:
    """CIE76 colour difference of two L*a*b* colours."""
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
