"""Screenshots of the extension's badges, for the README and docs/extension.md.

    .venv/bin/python package_scripts/screenshots.py [--out docs/screenshots]

Builds the extension (package_scripts/build_extension.py, into a temporary folder), loads it into
headless Chromium (as the tests do: tests/browser.py) and checks fixture pictures
(tests/fixtures) on a plain local page, one state per page, then saves each badge cropped to its
area, with a strip of the picture under it, as a small PNG:

    badge-generated.png  a generated face: "Likely generated, N%"
    badge-real.png       a real face: "Likely real"
    badge-unsure.png     a face inside the model's unsure band: "Unsure" (a copy of the build whose
                         contract.json has a band around that face's p_fake, as the calibrated
                         band of a model would hold it; tests/test_extension.py does the same)
    badge-no-face.png    a picture without a face: "No face found"
    chip-avatar.png      the chip on an 80 px avatar (the icon alone: the number would not fit the face)
    badge-group.png      three people side by side (real, generated, real), each badge on its face
    badge-why.png        the generated face with its evidence map over it ("Why?" in its details)
    badge-details.png    the generated face's badge with its details opened

The faces are picked by the extension's own verdicts: the generated fixture face with the highest
p_fake, the real one with the lowest, and for "Unsure" the face whose p_fake is nearest 0.5.
Nothing is downloaded; takes about half a minute. Rerun it when the badges' look changes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from facecheck.contract import Contract  # noqa: E402
from tests.browser import ExtensionChromium, StaticServer  # noqa: E402
from tests.e2e import HOSTS_JS, click_in_badge, read_badges, wait_badges  # noqa: E402
from tests.helpers import FIXTURES, band_around, fixture_faces  # noqa: E402

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FaceCheck</title></head>
<body style="margin:0;padding:72px 24px 24px;background:#f4f4f4;font:14px system-ui,sans-serif">
<img id="pic" alt="a test picture"></body></html>"""
SHOW_JS = """([src, w, h]) => new Promise((resolve, reject) => {
  const img = document.getElementById('pic');
  img.onload = () => resolve(img.currentSrc);
  img.onerror = () => reject(new Error('could not load ' + src));
  img.width = w; img.height = h; img.src = src;
})"""
# The area of the badge(s) (an open details panel included) and of the picture, in viewport px.
# (The badges' shadow roots are closed: read_badges opens them to this script, as the tests do.)
AREA_JS = """() => {
  const rects = [];
  for (const {host} of HOSTS) {
    rects.push(host.getBoundingClientRect());
    for (const el of host.shadowRoot.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.height) rects.push(r);
    }
  }
  const pic = document.getElementById('pic').getBoundingClientRect();
  const edges = (r) => [r.left, r.top, r.right, r.bottom];
  return {badges: rects.map(edges), pic: edges(pic)};
}""".replace("HOSTS", HOSTS_JS)
MARGIN = 12
STRIP = 72  # px of the picture kept under the badge, so the reader sees what it sits on


class Chromium(ExtensionChromium):
    """The extension in headless Chromium, with pages of one picture each."""

    def show(self, site_url: str, name: str, size: int, height: int | None = None):
        """A new page with /img/NAME at size px (wide; as high, or `height`), checked; returns
        (page, src, view)."""
        page = self.ctx.new_page()
        page.set_viewport_size({"width": 720, "height": 900})
        page.goto(f"{site_url}/one.html")
        src = page.evaluate(SHOW_JS, [f"/img/{name}", size, height or size])
        out = self.check(page, src)
        assert out["drawn"] >= 1, (name, out)
        page.mouse.move(0, 0)  # no hover: details only where a shot opens them
        return page, src, out["view"]


def build(out: Path) -> Path:
    script = ROOT / "package_scripts" / "build_extension.py"
    run = subprocess.run([sys.executable, str(script), "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stdout + run.stderr)
    return out / "extension"


def banded_copy(ext: Path, p: float, out: Path) -> Path:
    """A copy of the build whose model's unsure band holds p."""
    shutil.copytree(ext, out)
    band_around(Contract.load(ext / "model"), p).save(out / "model")
    return out


def crop(page, path: Path, whole_picture: bool = False) -> None:
    """Save the badge area (and a strip of the picture under it, or all of it) as an optimised PNG."""
    area = read_badges(page, AREA_JS)
    xs0, ys0, xs1, ys1 = zip(*area["badges"], strict=True)
    left, top, right, bottom = min(xs0), min(ys0), max(xs1), max(ys1)
    pic = area["pic"]
    bottom = max(bottom, pic[3] if whole_picture else min(pic[3], bottom + STRIP))
    left, right = (min(left, pic[0]), max(right, pic[2])) if whole_picture else (left, right)
    clip = {"x": max(0, left - MARGIN), "y": max(0, top - MARGIN)}
    clip.update(width=right + MARGIN - clip["x"], height=bottom + MARGIN - clip["y"])
    page.screenshot(path=str(path), clip=clip)
    Image.open(path).convert("RGB").save(path, optimize=True)
    page.close()


def pick_faces(b: Chromium, site_url: str, names: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    """({'fake', 'real', 'unsure'}: file name), by the extension's own verdicts, and each face's p_fake."""
    seen = {}
    for name in names:
        page, _, view = b.show(site_url, name, 160)
        seen[name] = (view["verdict"], view["p_fake"])
        page.close()
    fakes = [n for n, (v, _) in seen.items() if v == "fake"]
    reals = [n for n, (v, _) in seen.items() if v == "real"]
    judged = [n for n, (_, p) in seen.items() if p is not None]
    p = {n: seen[n][1] for n in judged}
    return {"fake": max(fakes, key=p.get), "real": min(reals, key=p.get),
            "unsure": min(judged, key=lambda n: abs(p[n] - 0.5))}, p


def shoot(b: Chromium, site_url: str, faces: dict, out: Path) -> list[Path]:
    """The shots of the shipped build (all but "Unsure")."""
    shots = []
    for state, name, size in (("generated", faces["fake"], 240), ("real", faces["real"], 240),
                              ("no-face", "noface.jpg", 240)):
        page, _, _ = b.show(site_url, name, size)
        crop(page, out / f"badge-{state}.png")
        shots.append(out / f"badge-{state}.png")
    page, src, _ = b.show(site_url, faces["fake"], 80)
    crop(page, out / "chip-avatar.png", whole_picture=True)
    page, src, _ = b.show(site_url, faces["fake"], 240)
    click_in_badge(page, src, "[aria-expanded]")  # a real click: badges ignore scripted ones
    page.mouse.move(0, 0)
    crop(page, out / "badge-details.png")
    page, _, _ = b.show(site_url, "group.jpg", 600, 200)
    crop(page, out / "badge-group.png", whole_picture=True)
    page, src, _ = b.show(site_url, faces["fake"], 240)
    click_in_badge(page, src, ".main")
    click_in_badge(page, src, ".why")
    wait_badges(page, "() => document.querySelector('facecheck-map:popover-open') !== null", timeout_ms=30000)
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    crop(page, out / "badge-why.png", whole_picture=True)
    return shots + [out / "chip-avatar.png", out / "badge-details.png", out / "badge-group.png",
                    out / "badge-why.png"]


def group_photo(faces: dict[str, str], img: Path) -> None:
    """Three people side by side in one photo: real, generated, real (the real face the shots use
    and another real fixture face), as tests/test_placement.py's group photo."""
    reals = [faces["real"], next(n for n in sorted(p.name for p in img.glob("real-*")) if n != faces["real"])]
    group = Image.new("RGB", (600, 200))
    for i, name in enumerate((reals[0], faces["fake"], reals[1])):
        group.paste(Image.open(img / name).convert("RGB").resize((200, 200)), (i * 200, 0))
    group.save(img / "group.jpg", quality=92)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="facecheck-shots-"))
    try:
        ext = build(tmp / "dist")
        img = tmp / "img"
        img.mkdir()
        names = []
        for f in fixture_faces("fake") + fixture_faces("real"):
            names.append(f"{f.parent.name}-{f.name}")
            shutil.copy(f, img / names[-1])
        shutil.copy(FIXTURES / "noface" / "coffee.jpg", img / "noface.jpg")
        with StaticServer({"/img/": img}, {"/one.html": PAGE}) as site, sync_playwright() as pw:
            b = Chromium(pw, ext)
            try:
                faces, p = pick_faces(b, site.url, names)
                group_photo(faces, img)
                shots = shoot(b, site.url, faces, args.out)
            finally:
                b.close()
            b = Chromium(pw, banded_copy(ext, p[faces["unsure"]], tmp / "banded"))
            try:
                page, _, view = b.show(site.url, faces["unsure"], 240)
                assert view["verdict"] == "unsure", view
                crop(page, args.out / "badge-unsure.png")
                shots.append(args.out / "badge-unsure.png")
            finally:
                b.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for shot in shots:
        print(f"{shot}  {shot.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
