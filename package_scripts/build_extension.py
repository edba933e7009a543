"""Build the loadable Chrome extension into dist/extension/ and the Web Store zip beside it.

    .venv/bin/python package_scripts/build_extension.py [--out dist] [--model DIR]

--model is the model folder (model.keras + contract.json), by default the shipped model or
$FACECHECK_MODEL_DIR, as for every other FaceCheck command.

dist/extension/ gets (and nothing of extension/'s development files: tests, lint and type
configuration, node_modules):
    manifest.json, src/ (service worker, content scripts, popup, options, the JS predictor), icons/
    vendor/   TF.js core, converter and wasm backend (es2017 bundles, which MV3's CSP accepts) and
              the single-threaded wasm binaries (service workers cannot run the threaded build);
              the C2PA reader (c2pa.js, c2pa_bg.wasm) for Content Credentials
    model/    the TF.js export of the classifier and the face detector, contract.json, licences
dist/facecheck-extension.zip holds the same files, manifest at the root, byte-for-byte
reproducible (sorted entries, fixed timestamps).

The export (`python -m export.tfjs`) runs first when build/model is missing, was made from another
model folder, or is older than the model or detector it was made from. TF.js comes from
extension/node_modules (`make setup`).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from facecheck.contract import MODEL_FILE
from facecheck.paths import DETECTOR_DIR, default_model_dir

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "extension"
TFJS = EXT / "node_modules" / "@tensorflow"
# The C2PA reader (c2pa-rs built to wasm, @contentauth/c2pa-wasm): src/provenance.js loads it only
# for a picture that holds Content Credentials. Its glue is an ES module; a service worker imports
# classic scripts, so vendor/c2pa.js is that module made one (c2pa_glue()).
C2PA_WASM = EXT / "node_modules" / "@contentauth" / "c2pa-wasm"
# (package, file in its dist/): what the service worker importScripts()s, and the wasm binaries
# tf.wasm picks from (SIMD where supported, else plain).
VENDOR = [
    ("tfjs-core", "tf-core.es2017.min.js"),
    ("tfjs-converter", "tf-converter.es2017.min.js"),
    ("tfjs-backend-wasm", "tf-backend-wasm.es2017.min.js"),
    ("tfjs-backend-wasm", "tfjs-backend-wasm.wasm"),
    ("tfjs-backend-wasm", "tfjs-backend-wasm-simd.wasm"),
]
SOURCE_SUFFIXES = {".js", ".html", ".css"}
MAX_ZIP_MB = 10.0
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def newest(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


def export_is_stale(export_dir: Path, model_dir: Path) -> bool:
    needed = [export_dir / "contract.json", export_dir / "classifier" / "model.json",
              export_dir / "detector" / "model.json", export_dir / "export.json"]
    if not all(p.exists() for p in needed):
        return True
    # An export of another model folder is stale whatever its age (building with another --model).
    source = json.loads((export_dir / "export.json").read_text())["classifier"]["source"]
    if (ROOT / source).resolve() != (model_dir / MODEL_FILE).resolve():
        return True
    exported_at = min(p.stat().st_mtime for p in needed)
    # The exporter and the contract's code count too: a change there (e.g. a new contract field,
    # such as unsure_from) changes what goes into contract.json, so it re-exports.
    code = (ROOT / "export" / "tfjs.py", ROOT / "facecheck" / "contract.py")
    sources = max(newest(model_dir), newest(DETECTOR_DIR), *(p.stat().st_mtime for p in code))
    return exported_at < sources


def export(export_dir: Path, model_dir: Path, force: bool) -> None:
    if not force and not export_is_stale(export_dir, model_dir):
        print(f"export: {export_dir} is up to date")
        return
    print(f"export: {model_dir} -> {export_dir}")
    subprocess.run([sys.executable, "-m", "export.tfjs", "--model", str(model_dir), "--out", str(export_dir)],
                   check=True, cwd=ROOT)


def copy_tree(src: Path, dst: Path, suffixes: set[str] | None = None) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file() and (suffixes is None or p.suffix in suffixes):
            target = dst / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


def vendor(out: Path) -> None:
    missing = [f"{pkg}/dist/{name}" for pkg, name in VENDOR if not (TFJS / pkg / "dist" / name).exists()]
    if missing:
        sys.exit(f"TF.js is not installed ({missing[0]} missing): run `make setup` (npm ci in extension/)")
    (out / "vendor").mkdir(parents=True)
    notice = ["# Third-party code in vendor/", ""]
    for pkg in dict.fromkeys(pkg for pkg, _ in VENDOR):
        meta = json.loads((TFJS / pkg / "package.json").read_text())
        notice.append(f"- @tensorflow/{pkg} {meta['version']}, {meta.get('license', 'Apache-2.0')} "
                      "licence, https://github.com/tensorflow/tfjs")
    for pkg, name in VENDOR:
        shutil.copyfile(TFJS / pkg / "dist" / name, out / "vendor" / name)
    notice.append(c2pa_vendor(out / "vendor"))
    (out / "vendor" / "NOTICE.md").write_text("\n".join(notice) + "\n")


def c2pa_glue(module: str) -> str:
    """wasm-bindgen's ES module glue -> a classic script defining self.FaceCheckC2pa = {WasmReader,
    init}. Its FileReaderSync (which service workers lack) is src/provenance.js's BytesReader, which
    reads the bytes the worker already holds."""
    body, n = re.subn(r"^export (class|function|const) ", r"\1 ", module, flags=re.M)
    body, tail = re.subn(r"^export \{ initSync, __wbg_init as default \};$", "", body, flags=re.M)
    if not n or tail != 1 or re.search(r"^\s*(import|export)\b|import\.meta", body, flags=re.M):
        sys.exit("@contentauth/c2pa-wasm's glue changed shape: check c2pa_glue() in build_extension.py")
    return ("// Made from @contentauth/c2pa-wasm's pkg/c2pa.js by package_scripts/build_extension.py.\n"
            "self.FaceCheckC2pa = (function (FileReaderSync) {\n'use strict';\n" + body +
            "\nreturn { WasmReader, init: __wbg_init };\n})(self.FaceCheckBytesReader);\n")


def c2pa_vendor(dst: Path) -> str:
    """vendor/c2pa.js and vendor/c2pa_bg.wasm; returns the NOTICE line."""
    pkg = C2PA_WASM / "pkg"
    if not (pkg / "c2pa_bg.wasm").exists():
        sys.exit("@contentauth/c2pa-wasm is not installed: run `make setup` (npm ci in extension/)")
    (dst / "c2pa.js").write_text(c2pa_glue((pkg / "c2pa.js").read_text()))
    shutil.copyfile(pkg / "c2pa_bg.wasm", dst / "c2pa_bg.wasm")
    meta = json.loads((C2PA_WASM / "package.json").read_text())
    return (f"- @contentauth/c2pa-wasm {meta['version']}, {meta.get('license', 'MIT')} licence, "
            "https://github.com/contentauth/c2pa-js")


def model(out: Path, export_dir: Path, model_dir: Path) -> dict:
    dst = out / "model"
    for part in ("classifier", "detector"):
        copy_tree(export_dir / part, dst / part)
    shutil.copyfile(export_dir / "contract.json", dst / "contract.json")
    # The weights' licences travel with them.
    licences = ((model_dir / "MODEL_CARD.md", "MODEL_CARD.md"),
                (DETECTOR_DIR / "NOTICE.md", "DETECTOR_NOTICE.md"))
    for src, name in licences:
        if src.exists():
            shutil.copyfile(src, dst / name)
    return json.loads((dst / "contract.json").read_text())


def check_manifest(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    # Model files must stay private to the extension: web-accessible files are readable by any site.
    if manifest.get("web_accessible_resources"):
        sys.exit("manifest.json must not declare web_accessible_resources")
    referenced = [manifest["background"]["service_worker"], manifest["action"]["default_popup"],
                  manifest["options_ui"]["page"], *manifest["icons"].values(),
                  *manifest["action"]["default_icon"].values()]
    missing = [p for p in referenced if not (out / p).exists()]
    if missing:
        sys.exit(f"manifest.json refers to missing files: {missing}")
    return manifest


def pack(out: Path, zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for p in sorted(out.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(p.relative_to(out).as_posix(), ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, p.read_bytes(), compresslevel=9)
    return zip_path.stat().st_size


def build(out_root: Path, model_dir: Path, export_dir: Path, force_export: bool = False) -> Path:
    export(export_dir, model_dir, force_export)
    out = out_root / "extension"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copyfile(EXT / "manifest.json", out / "manifest.json")
    copy_tree(EXT / "src", out / "src", SOURCE_SUFFIXES)
    copy_tree(EXT / "icons", out / "icons", {".png"})
    vendor(out)
    contract = model(out, export_dir, model_dir)
    manifest = check_manifest(out)
    zip_path = out_root / "facecheck-extension.zip"
    size = pack(out, zip_path)
    unpacked = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"built {out} ({unpacked / 1e6:.2f} MB): FaceCheck {manifest['version']}, "
          f"model {contract.get('model_version')} ({contract.get('crop_rule')})")
    print(f"packed {zip_path} ({size / 1e6:.2f} MB, budget {MAX_ZIP_MB:.0f} MB)")
    if size > MAX_ZIP_MB * 1e6:
        sys.exit(f"the packed extension is over the {MAX_ZIP_MB} MB budget")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    ap.add_argument("--model", type=Path, default=None,
                    help="model folder (default: the shipped model, or $FACECHECK_MODEL_DIR)")
    ap.add_argument("--export-dir", type=Path, default=ROOT / "build" / "model", help="TF.js export folder")
    ap.add_argument("--force-export", action="store_true", help="export even when build/model is fresh")
    args = ap.parse_args(argv)
    model_dir = args.model or default_model_dir()
    out = build(args.out.resolve(), model_dir.resolve(), args.export_dir.resolve(), args.force_export)
    print("\nTo load it: open chrome://extensions, turn on Developer mode, click \"Load unpacked\" and "
          f"choose {out}.\nThen right-click an image and pick \"Check face\", or use the toolbar button "
          "to scan a page.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
