"""Draw the extension's toolbar and store icons (extension/icons/icon{16,32,48,128}.png).

    .venv/bin/python package_scripts/make_icons.py

A face outline with a magnifier, drawn large and downsampled so small sizes stay crisp. The PNGs
are committed; rerun this only to change the design.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "extension" / "icons"
SIZES = (16, 32, 48, 128)
BIG = 512
BLUE = (21, 67, 140, 255)
WHITE = (255, 255, 255, 255)
AMBER = (255, 210, 63, 255)


def draw() -> Image.Image:
    img = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16, 16, BIG - 16, BIG - 16), radius=96, fill=BLUE)
    # A head: oval outline, two eyes, a mouth.
    d.ellipse((110, 80, 330, 340), outline=WHITE, width=30)
    d.ellipse((165, 170, 195, 200), fill=WHITE)
    d.ellipse((245, 170, 275, 200), fill=WHITE)
    d.arc((170, 210, 270, 290), start=20, end=160, fill=WHITE, width=22)
    # A magnifier over the lower right corner.
    d.ellipse((270, 270, 430, 430), fill=BLUE, outline=AMBER, width=34)
    d.line((410, 410, 470, 470), fill=AMBER, width=44)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw()
    for size in SIZES:
        big.resize((size, size), Image.LANCZOS).save(OUT / f"icon{size}.png", optimize=True)
        print(f"wrote {OUT / f'icon{size}.png'}")


if __name__ == "__main__":
    main()
