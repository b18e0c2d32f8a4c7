"""`vaegan export-web`: a folder the browser explorer (``web/``) runs from, with no server-side code.

    vaegan export-web --out site                      # the shipped zoo: mnist and fashion-mnist, gan / vae / vaegan,
                                                      # and their class-conditional models
    vaegan export-web runs/a runs/b --out site        # chosen checkpoints, grouped by the dataset they were trained on
                                                      # (a conditional one beside an unconditional one of its dataset)
    vaegan web site                                   # or: cd site && python -m http.server

What the folder holds (every path relative to it; numbers little-endian)::

    index.html style.css js/        the explorer, copied from web/
    ort/                            ONNX Runtime Web's wasm-only build (from web/node_modules: `npm ci --prefix web`)
    explorer.json                   the datasets and where their manifests are
    README.md                       the front matter of a static Hugging Face Space (``SPACE_README``)
    <dataset>/manifest.json         image shape, class names, the test images' labels, per model: latent size, files,
                                    scores (metrics.json), the parity measured at export
    <dataset>/images.bin            the first N test images, uint8 N x C x H x W
    <dataset>/<kind>/decoder.onnx   codes B x d -> images B x C x H x W in [0, 1] (vaegan_core.export)
    <dataset>/<kind>/encoder.onnx   VAE and VAE-GAN: images -> (mu, logvar)
    <dataset>/<kind>/codes.bin      VAE and VAE-GAN: mu of the N test images, float32 N x d
    <dataset>/<kind>/gmm.bin        when the checkpoint has a GMM prior: float32 weights K, means K x d, Cholesky
                                    factors K x d x d (lower, row-major)
    <dataset>/conditional/<kind>/decoder.onnx
                                    a class-conditional model (the Conditional view): codes B x d and labels B (int64)
                                    -> images B x C x H x W in [0, 1]; in the manifest under ``conditional``, apart
                                    from ``models``, so the other views show the unconditional models only

The manifest also holds, per model with an encoder, ``pca``: the mean (d) and the two leading principal axes (2 x d)
of its exported codes (the Latent map view: a point x, y maps back to mean + x * axis 1 + y * axis 2), and
``class_colours``: the app's fixed palette (demo/ui_settings.py CLASS_COLOURS, copied here: vaegan_core does not
import demo/).

The first N test images are exported (not a sample), so an image index means the same image here as in the
Streamlit app (its ``interp-a`` and ``interp-b``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from .config import DATASET_LABELS, IDX_DATASETS, MODEL_KINDS, MODEL_LABELS, PRIOR_LABELS
from .errors import ConfigError
from .export import ExportError, check_parity, export_onnx, has_part, require_onnx
from .storage.files import write_text_atomic

WEB_SOURCE = Path(__file__).resolve().parents[1] / "web"  # the explorer's HTML, CSS and JavaScript
STATIC = ("index.html", "style.css", "js")  # what of web/ is copied (not package.json, not node_modules)
ORT_VERSION = "1.30.0"  # web/package.json pins it; web/package-lock.json locks its files
ORT_DIST = Path("node_modules") / "onnxruntime-web" / "dist"
# The wasm-only build: the default ort.min.js also wants the JSEP/WebGPU files (DESIGN.md, section 4)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
# The runtime's wasm binary (13.6 MB, the folder's largest file by far) is copied gzipped, as ORT_BINARY + ".gz" (3.5
# MB): web/js/models.js unpacks it with the browser's DecompressionStream and hands it to ONNX Runtime as a blob URL
ORT_BINARY = "ort-wasm-simd-threaded.wasm"
INDEX_FILE = "explorer.json"
UNCONDITIONAL, CONDITIONAL = "models", "conditional"  # the manifest's two groups of models (the second's folder)
FORMAT = "vaegan-web-1"
# demo/ui_settings.py CLASS_COLOURS (the Streamlit app's latent map), one per class
CLASS_COLOURS = ["#1f3c88", "#d7191c", "#1a9641", "#ff7f00", "#6a3d9a", "#000000", "#e7298a", "#8c510a",
                 "#01858f", "#b8a000"]
TEST_IMAGES = 300  # test images (and their codes) per dataset: the explorer's pickers
MAX_TEST_IMAGES = 10_000
# The folder's README.md: the front matter that makes it a static Hugging Face Space as it is (docs/web.md, "Publish").
# The headers isolate the page cross-origin, as `vaegan web` does, so ONNX Runtime Web may use several threads.
SPACE_README = """---
title: VAE-GAN Explorer
emoji: 🔢
colorFrom: indigo
colorTo: gray
sdk: static
app_file: index.html
pinned: false
custom_headers:
  cross-origin-embedder-policy: require-corp
  cross-origin-opener-policy: same-origin
  cross-origin-resource-policy: cross-origin
---

VAE, GAN and VAE-GAN decoders (and their class-conditional twins) running in the visitor's browser with ONNX Runtime
Web: no server code, nothing sent anywhere. Made by `vaegan export-web`; publish it as docs/web.md says.
"""


def ort_files(web_dir: str | os.PathLike | None = None) -> list[Path]:
    """The ONNX Runtime Web files the explorer needs, from the node_modules of ``web_dir`` (default ``WEB_SOURCE``);
    an ExportError in one line when they are not installed."""
    web_dir = WEB_SOURCE if web_dir is None else web_dir
    dist = Path(web_dir) / ORT_DIST
    files = [dist / name for name in ORT_FILES]
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        raise ExportError(f"ONNX Runtime Web is not installed in {Path(web_dir) / 'node_modules'} (missing "
                          f"{', '.join(missing)}); run `npm ci --prefix {_shown(web_dir)}` first")
    return files


def _shown(path: str | os.PathLike) -> str:
    """``path`` relative to the working directory when it lies below it (``web``), else as it is."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def models_to_export(checkpoints=None, root: str | os.PathLike | None = None) -> dict[str, dict[str, dict[str, Path]]]:
    """``{dataset: {"models": {kind: folder}, "conditional": {kind: folder}}}``: the given checkpoint folders grouped by
    the dataset they were trained on, class-conditional ones apart, or, without any, every shipped (dataset, kind) of
    the zoo under ``root`` that is there (``checkpoints/<dataset>/<kind>`` and ``.../conditional/<kind>``)."""
    from .storage.checkpoint import read_config
    from .storage.zoo import checkpoint_dir, is_available

    chosen: dict[str, dict[str, dict[str, Path]]] = {}
    if not checkpoints:
        for dataset in IDX_DATASETS:
            groups = {group: {kind: checkpoint_dir(dataset, kind, root, conditional) for kind in MODEL_KINDS
                              if is_available(dataset, kind, root, conditional)}
                      for group, conditional in ((UNCONDITIONAL, False), (CONDITIONAL, True))}
            if groups[UNCONDITIONAL]:  # conditional models are shown beside unconditional ones only (below)
                chosen[dataset] = groups
        if not chosen:
            raise ExportError("no shipped checkpoint found to export; name checkpoint folders: "
                              "`vaegan export-web DIR [DIR ...] --out SITE`")
        return chosen
    for folder in map(Path, checkpoints):
        config = read_config(folder)
        model, train = config["model_config"], config["train_config"]
        if train is None or train.dataset not in ("mnist", "fashion-mnist", "digits"):
            raise ExportError(f"{folder}: the browser explorer needs a model trained on mnist, fashion-mnist or digits "
                              f"(its test images ship with it), not {getattr(train, 'dataset', 'an unknown dataset')}")
        group = CONDITIONAL if model.num_classes else UNCONDITIONAL
        found = chosen.setdefault(train.dataset, {UNCONDITIONAL: {}, CONDITIONAL: {}})[group]
        if model.kind in found:
            what = ("conditional " if model.num_classes else "") + MODEL_LABELS[model.kind]
            raise ExportError(f"two {what} checkpoints for {train.dataset}: {found[model.kind]} and {folder}; the "
                              "explorer shows one of each")
        found[model.kind] = folder
    for dataset, groups in chosen.items():
        if not groups[UNCONDITIONAL]:  # the views are built around the unconditional models; Conditional is one more
            raise ExportError(f"{', '.join(map(str, groups[CONDITIONAL].values()))}: a conditional model of {dataset} "
                              f"needs an unconditional GAN, VAE or VAE-GAN of {dataset} exported beside it (the "
                              "explorer's other views show those); name one too")
    return chosen


def _check_out(out: Path) -> None:
    """Refuse to write into a folder that holds other things than an earlier export."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; --out names a folder for the explorer")
    if out.is_dir() and any(out.iterdir()) and not (out / INDEX_FILE).is_file():
        raise ExportError(f"{out} is not empty and holds no earlier export ({INDEX_FILE}); choose a new or empty "
                          "folder")


def _write_bytes(path: Path, data: bytes) -> None:
    from .storage.files import atomic_write

    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            handle.write(data)

    atomic_write(path, write)


def _scores(folder: Path) -> list[dict]:
    """metrics.json's headline figures as ``zoo.scores_table`` rows (measure, then one value per column)."""
    from .storage.zoo import read_metrics, scores_table

    return scores_table(read_metrics(folder))


def _export_model(model, folder: Path, target: Path, images, progress) -> dict:
    """One model's files under ``target`` and its manifest entry."""
    from .storage.zoo import read_config_json

    target.mkdir(parents=True, exist_ok=True)
    entry = {"kind": model.kind, "label": MODEL_LABELS[model.kind], "latent_dim": model.config.latent_dim,
             "decoder": f"{target.name}/decoder.onnx", "encoder": None, "codes": None, "pca": None, "gmm": None,
             "gmm_note": None, "parity": {}, "scores": _scores(folder),
             "epochs": (read_config_json(folder).get("state") or {}).get("epoch")}
    for part in ("decoder", "encoder"):
        if not has_part(model, part):
            continue
        path = export_onnx(model, part, target / f"{part}.onnx")
        entry[part] = f"{target.name}/{part}.onnx"
        entry["parity"][part] = check_parity(model, part, path)["max_abs_diff"]
        progress(f"  {target.parent.name}/{target.name}/{part}.onnx ({path.stat().st_size / 2**20:.1f} MB, onnxruntime "
                 f"vs torch max abs diff {entry['parity'][part]:.1e})")
    if has_part(model, "encoder"):
        codes = model.encode(images.float() / 255)[0].numpy().astype("<f4")
        _write_bytes(target / "codes.bin", codes.tobytes())
        entry["codes"] = f"{target.name}/codes.bin"
        entry["pca"] = code_pca(codes)
        if model.latent_gmm is not None and model.latent_gmm.dim == model.config.latent_dim:
            gmm = model.latent_gmm
            parts = [gmm.weights.numpy(), gmm.means.numpy(), gmm.cholesky.numpy()]
            _write_bytes(target / "gmm.bin", b"".join(part.astype("<f4").tobytes() for part in parts))
            entry["gmm"] = {"file": f"{target.name}/gmm.bin", "components": gmm.components}
        else:
            entry["gmm_note"] = model.prior("gmm", fallback=True).note or "no GMM prior"
    else:
        entry["gmm_note"] = "a GAN has no encoder, so no GMM of training codes"
    return entry


def code_pca(codes) -> dict:
    """The 2-D PCA of codes (N x d): {"mean": d, "components": 2 x d (unit rows), "explained": the 2 variance
    fractions}. Each axis's sign is fixed (its largest entry positive), so an export is reproducible."""
    import numpy as np

    values = np.asarray(codes, dtype=np.float64)
    mean = values.mean(axis=0)
    _, singular, axes = np.linalg.svd(values - mean, full_matrices=False)
    axes = axes[:2] if len(axes) >= 2 else np.vstack([axes, np.zeros((2 - len(axes), values.shape[1]))])
    for row in axes:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    variance = singular ** 2
    explained = (variance[:2] / variance.sum()).tolist() if variance.sum() > 0 else [0.0, 0.0]
    return {"mean": [float(v) for v in mean], "components": [[float(v) for v in row] for row in axes],
            "explained": [float(v) for v in explained] + [0.0] * (2 - len(explained))}


def _export_conditional(model, folder: Path, target: Path, class_names: list[str], progress) -> dict:
    """A class-conditional model's decoder (codes and labels) under ``target`` and its manifest entry."""
    from .storage.zoo import read_config_json

    classes = model.config.num_classes
    if classes != len(class_names or []) or classes > 10:  # the view's text: one digit, 0 to 9, per class
        raise ExportError(f"{folder} is conditional on {classes} classes, the dataset has {len(class_names or [])}; "
                          "the Conditional view needs one class per dataset class, at most 10")
    target.mkdir(parents=True, exist_ok=True)
    relative = f"{CONDITIONAL}/{target.name}/decoder.onnx"
    path = export_onnx(model, "decoder", target / "decoder.onnx")
    parity = check_parity(model, "decoder", path)["max_abs_diff"]
    progress(f"  {target.parent.parent.name}/{relative} ({path.stat().st_size / 2**20:.1f} MB, onnxruntime vs torch "
             f"max abs diff {parity:.1e})")
    return {"kind": model.kind, "label": f"conditional {MODEL_LABELS[model.kind]}",
            "latent_dim": model.config.latent_dim, "num_classes": classes, "decoder": relative,
            "parity": {"decoder": parity}, "scores": _scores(folder),
            "epochs": (read_config_json(folder).get("state") or {}).get("epoch")}


def export_dataset(dataset: str, folders: dict[str, Path], out: Path, n_images: int = TEST_IMAGES,
                   progress: Callable[[str], None] = lambda message: None,
                   conditional: dict[str, Path] | None = None) -> dict:
    """``out/<dataset>/``: the test images, every model of ``folders`` ({kind: checkpoint folder}) and every
    class-conditional one of ``conditional`` (its decoder, under ``conditional/<kind>/``); returns the manifest (also
    written as ``manifest.json``)."""
    from .storage.checkpoint import load_model
    from .training.data import CLASS_NAMES, load_dataset

    target = out / dataset
    target.mkdir(parents=True, exist_ok=True)
    models = {kind: load_model(folders[kind]) for kind in MODEL_KINDS if kind in folders}
    conditional = conditional or {}
    labelled = {kind: load_model(conditional[kind]) for kind in MODEL_KINDS if kind in conditional}
    shapes = {(m.config.channels, m.config.image_size) for m in [*models.values(), *labelled.values()]}
    if len(shapes) > 1:
        raise ExportError(f"the {dataset} models make images of different shapes ({sorted(shapes)}); export them "
                          "apart")
    channels, size = shapes.pop()
    images, labels = load_dataset(dataset, "test", image_size=size, channels=channels)
    images, labels = images[:n_images].contiguous(), labels[:n_images]
    _write_bytes(target / "images.bin", images.numpy().tobytes())
    progress(f"{dataset}: {len(labels)} test images")
    manifest = {"format": FORMAT, "dataset": dataset, "label": DATASET_LABELS.get(dataset, dataset),
                "channels": channels, "height": size, "width": size, "class_names": CLASS_NAMES.get(dataset),
                "images": "images.bin", "count": len(labels), "labels": [int(label) for label in labels],
                "priors": dict(PRIOR_LABELS), "class_colours": CLASS_COLOURS, UNCONDITIONAL: {}, CONDITIONAL: {}}
    for kind, model in models.items():
        manifest[UNCONDITIONAL][kind] = _export_model(model, folders[kind], target / kind, images, progress)
    for kind, model in labelled.items():
        manifest[CONDITIONAL][kind] = _export_conditional(model, conditional[kind], target / CONDITIONAL / kind,
                                                          manifest["class_names"], progress)
    write_text_atomic(target / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def copy_static(out: Path, web_dir: str | os.PathLike | None = None) -> None:
    """The explorer's own files (``STATIC`` of ``web_dir``, default ``WEB_SOURCE``) and ONNX Runtime Web (``ort/``)
    into ``out``."""
    web_dir = WEB_SOURCE if web_dir is None else web_dir
    runtime = ort_files(web_dir)
    for name in STATIC:
        source, target = Path(web_dir) / name, out / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    (out / "ort").mkdir(exist_ok=True)
    for path in runtime:
        if path.name == ORT_BINARY:
            _write_gzipped(path, out / "ort" / (path.name + ".gz"))
        else:
            shutil.copy2(path, out / "ort" / path.name)
    (out / "ort" / "NOTICE.txt").write_text(
        f"ONNX Runtime Web {ORT_VERSION} (https://github.com/microsoft/onnxruntime), MIT License, "
        "Copyright (c) Microsoft Corporation; installed from npm by `npm ci --prefix web`.\n", encoding="utf-8")


def _write_gzipped(source: Path, target: Path) -> None:
    """``source`` gzipped into ``target`` (level 9, no name or time in the header: the same bytes on every export)."""
    import gzip

    _write_bytes(target, gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))
    (target.parent / source.name).unlink(missing_ok=True)  # an earlier export's plain copy


def export_web(out: str | os.PathLike, checkpoints=None, n_images: int = TEST_IMAGES,
               web_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
               progress: Callable[[str], None] = lambda message: None) -> dict:
    """Build the explorer's folder ``out`` from ``checkpoints`` (folders; default: the shipped zoo under ``root``,
    conditional models included). Every exported network passes ``export.check_parity`` (onnxruntime against torch,
    max abs diff <= 1e-3) or the export stops with an ExportError. Returns a summary: the folder, the datasets and
    their models, the conditional models ({dataset: kinds}, where there are any), the total size."""
    if not 1 <= n_images <= MAX_TEST_IMAGES:
        raise ConfigError(f"--images must lie from 1 to {MAX_TEST_IMAGES:,}, got {n_images}")
    out = Path(out)
    ort_files(web_dir)  # before any work: the one step that needs npm
    require_onnx()
    _check_out(out)
    chosen = models_to_export(checkpoints, root)
    out.mkdir(parents=True, exist_ok=True)
    copy_static(out, web_dir)
    write_text_atomic(out / "README.md", SPACE_README)
    datasets = []
    for dataset, groups in chosen.items():
        manifest = export_dataset(dataset, groups[UNCONDITIONAL], out, n_images, progress, groups[CONDITIONAL])
        datasets.append({"name": dataset, "label": manifest["label"], "manifest": f"{dataset}/manifest.json",
                         "models": list(manifest[UNCONDITIONAL]), "conditional": list(manifest[CONDITIONAL])})
    from . import __version__

    index = {"format": FORMAT, "vaegan_version": __version__, "onnxruntime_web": ORT_VERSION, "datasets": datasets}
    write_text_atomic(out / INDEX_FILE, json.dumps(index, indent=1))
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    return {"out": str(out), "datasets": {entry["name"]: entry["models"] for entry in datasets},
            "conditional": {entry["name"]: entry["conditional"] for entry in datasets if entry["conditional"]},
            "megabytes": round(size / 2**20, 1), "serve": f"vaegan web {out}"}


# ---- `vaegan web DIR`: the folder on a local server ------------------------------------------------------------
MIME_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
              ".onnx": "application/octet-stream", ".bin": "application/octet-stream", ".json": "application/json",
              ".gz": "application/gzip"}  # served as it is, never with Content-Encoding: the page unpacks it


def check_site(folder: str | os.PathLike) -> Path:
    """``folder`` if it holds an export (``explorer.json``), else an ExportError saying how to make one."""
    folder = Path(folder)
    if not (folder / INDEX_FILE).is_file():
        raise ExportError(f"{folder} holds no explorer ({INDEX_FILE} is missing); make one with "
                          f"`vaegan export-web --out {folder}`")
    return folder


def make_server(folder: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000):
    """A threading HTTP server of ``folder`` (not started; ``serve_forever`` it). Beyond ``python -m http.server``
    it names the MIME types of .mjs and .wasm on every Python, tells the browser to revalidate (a new export is seen
    at once) and isolates the page (COOP/COEP), which lets ONNX Runtime Web use several threads."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
            pass  # quiet: the command prints its address once

    handler = functools.partial(Handler, directory=str(check_site(folder)))
    return ThreadingHTTPServer((host, port), handler)
