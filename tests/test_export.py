"""ONNX and TorchScript export (vaegan_core.export, `vaegan export`) and `vaegan export-web`
(vaegan_core.web_export): every exported network computes what the model does (onnxruntime or torch.jit.load against
torch, max abs diff <= 1e-3) at any batch size, and the folder holds what the browser explorer reads. No browser here
(tests/test_web_explorer.py drives one)."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import threading
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_model_config, tiny_train_config
from vaegan_core.storage.checkpoint import load_model, save_checkpoint
from vaegan_core.cli import main
from vaegan_core.export import (PARITY_TOLERANCE, TRACE_BATCH, ExportError, check_parity, check_parity_torchscript,
                                 example_inputs, export_files, export_onnx, export_torchscript, onnx_session)
from vaegan_core.models import build_model
from vaegan_core.models.prior import LatentGMM
from vaegan_core import web_export

pytest.importorskip("onnxruntime")
from conftest import REPO as ROOT  # noqa: E402
SHIPPED = ROOT / "checkpoints"


def _tiny(kind: str, **changes):
    """A tiny model whose moving-average decoder differs from the trained one, in eval mode and channels_last, as
    load_model gives it: the export must take the moving average and the model's own output transform."""
    torch.manual_seed(0)
    model = build_model(tiny_model_config(kind, ema_decay=0.9, **changes))
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        for buffer_name, buffer in model.decoder_ema.named_buffers():
            if buffer_name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)  # BatchNorm statistics that matter in eval mode
    return model.eval().to(memory_format=torch.channels_last)


@pytest.mark.parametrize("kind", ["gan", "vae", "vaegan"])
def test_every_network_of_a_tiny_model_matches_torch(kind, tmp_path):
    model = _tiny(kind)
    parts = ["decoder"] + ([] if kind == "gan" else ["encoder"])
    for part in parts:
        path = export_onnx(model, part, tmp_path / f"{part}.onnx")
        result = check_parity(model, part, path, n=9)
        assert result["max_abs_diff"] <= PARITY_TOLERANCE, result
    # the batch axis is dynamic: one code and 33 codes go through the same file
    session = onnx_session(tmp_path / "decoder.onnx")
    for n in (1, 33):
        z = torch.randn(n, model.config.latent_dim)
        found = session.run(None, {"z": z.numpy()})[0]
        assert found.shape == (n, 1, 28, 28) and np.abs(found - model.decode(z).numpy()).max() <= PARITY_TOLERANCE
    assert model.use_ema and next(model.parameters()).device.type == "cpu"  # the model is left as it was


def test_the_export_takes_the_decoder_the_model_samples_with(tmp_path):
    model = _tiny("vaegan")
    path = export_onnx(model, "decoder", tmp_path / "decoder.onnx")
    model.use_ema = False  # now torch decodes with the trained weights: the file (moving average) differs
    with pytest.raises(ExportError, match="differ by up to"):
        check_parity(model, "decoder", path)


def test_a_conditional_model_exports_with_a_labels_input(tmp_path):
    model = _tiny("vaegan", num_classes=10)
    for part in ("decoder", "encoder"):
        path = export_onnx(model, part, tmp_path / f"{part}.onnx")
        assert [entry.name for entry in onnx_session(path).get_inputs()][1] == "labels"
        assert check_parity(model, part, path)["max_abs_diff"] <= PARITY_TOLERANCE


def test_a_gan_has_no_encoder_to_export_and_unknown_parts_are_refused(tmp_path):
    with pytest.raises(ExportError, match="GAN has no encoder"):
        export_onnx(_tiny("gan"), "encoder", tmp_path / "encoder.onnx")
    with pytest.raises(ExportError, match="unknown network 'discriminator'"):
        export_onnx(_tiny("gan"), "discriminator", tmp_path / "d.onnx")


def test_without_onnx_the_export_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(ExportError, match="needs the onnx and onnxruntime packages .*pip install onnx onnxruntime"):
        export_onnx(_tiny("vae"), "decoder", tmp_path / "decoder.onnx")


def test_the_install_hint_names_the_export_extra(monkeypatch, tmp_path):
    """The missing-package line names the package's extra (pyproject.toml's [export]: onnx and onnxruntime)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert {requirement.split(">")[0] for requirement in extras["export"]} == {"onnx", "onnxruntime"}
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match=r'onnxruntime is missing\): pip install "vaegan\[export\]"'):
        export_onnx(_tiny("vae"), "decoder", tmp_path / "decoder.onnx")


def test_an_export_into_an_earlier_exports_folder_leaves_what_its_manifest_lists(tmp_path):
    """Exporting one part, or another format, into the folder of an earlier export removes the network files the new
    export.json does not list; files the exporter did not write (or that a manifest names outside its own names)
    stay."""
    model, out = _tiny("vae"), tmp_path / "export"
    export_files(model, "onnx", out, check=False)
    assert sorted(path.name for path in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "export.json"]
    (out / "notes.txt").write_text("mine")
    export_files(model, "onnx", out, parts=["decoder"], check=False)
    assert sorted(path.name for path in out.iterdir()) == ["decoder.onnx", "export.json", "notes.txt"]
    export_files(model, "torchscript", out, check=False)
    assert sorted(path.name for path in out.iterdir()) == ["decoder.torchscript.pt", "encoder.torchscript.pt",
                                                           "export.json", "notes.txt"]
    listed = {entry["file"] for entry in json.loads((out / "export.json").read_text())["networks"].values()}
    assert listed == {"decoder.torchscript.pt", "encoder.torchscript.pt"}
    # a manifest that lists other files (edited, or not an export's) removes none of them
    manifest = json.loads((out / "export.json").read_text())
    manifest["networks"]["encoder"]["file"] = "notes.txt"
    (out / "export.json").write_text(json.dumps(manifest))
    export_files(model, "torchscript", out, parts=["decoder"], check=False)
    assert sorted(path.name for path in out.iterdir()) == ["decoder.torchscript.pt", "encoder.torchscript.pt",
                                                           "export.json", "notes.txt"]
    (out / "export.json").write_text("not json")
    export_files(model, "torchscript", out, parts=["decoder"], check=False)  # an unreadable manifest: nothing goes
    assert (out / "encoder.torchscript.pt").is_file()


def test_a_broken_onnx_file_is_one_line(tmp_path):
    path = tmp_path / "decoder.onnx"
    path.write_bytes(b"not an onnx file")
    with pytest.raises(ExportError, match="is not a readable ONNX file.*export it again"):
        check_parity(_tiny("vae"), "decoder", path)


SHIPPED_NETWORKS = [(dataset, kind, part) for dataset in ("mnist", "fashion-mnist") for kind in ("gan", "vae", "vaegan")
                    for part in ("decoder", "encoder") if not (kind == "gan" and part == "encoder")]


@pytest.mark.parametrize("dataset,kind,part", SHIPPED_NETWORKS)
def test_every_shipped_network_exports_within_tolerance(dataset, kind, part, tmp_path):
    folder = SHIPPED / dataset / kind
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} is not shipped here")
    model = load_model(folder)
    path = export_onnx(model, part, tmp_path / f"{part}.onnx")
    assert check_parity(model, part, path, n=32)["max_abs_diff"] <= PARITY_TOLERANCE


# ---- TorchScript, and every file at batch sizes other than the one it was made at ----------------------------------

BATCHES = (1, 7)  # neither is the batch the files are traced at (TRACE_BATCH) nor example_inputs' default
MODELS = [("vaegan", 0), ("vaegan", 10), ("vae", 10)]


def _jit_load(path: Path):
    """torch.jit.load, as a user of the file calls it (without its deprecation notice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path))


def _expected(model, part: str, inputs) -> list[np.ndarray]:
    """What the model itself returns on ``inputs``: decode's images, or encode's (mu, logvar)."""
    labels = inputs[1] if len(inputs) > 1 else None
    outputs = [model.decode(inputs[0], labels)] if part == "decoder" else list(model.encode(inputs[0], labels))
    return [output.numpy() for output in outputs]


def _assert_matches(found, expected, n: int) -> None:
    assert [a.shape for a in found] == [b.shape for b in expected] and found[0].shape[0] == n
    assert max(float(np.abs(a - b).max()) for a, b in zip(found, expected)) <= PARITY_TOLERANCE


@pytest.mark.parametrize("kind,classes", MODELS)
def test_torchscript_files_run_at_batch_1_and_7_as_the_model_does(kind, classes, tmp_path):
    assert TRACE_BATCH not in BATCHES
    model = _tiny(kind, num_classes=classes)
    for part in ("decoder", "encoder"):
        path = export_torchscript(model, part, tmp_path / f"{part}.torchscript.pt")
        module = _jit_load(path)
        for n in BATCHES:
            inputs = example_inputs(model, part, n, seed=5)
            with torch.no_grad():
                outputs = module(*inputs)
            outputs = [outputs] if part == "decoder" else list(outputs)
            _assert_matches([output.numpy() for output in outputs], _expected(model, part, inputs), n)
        result = check_parity_torchscript(model, part, path)
        assert set(result["by_batch"]) == {"1", "16"} and result["max_abs_diff"] <= PARITY_TOLERANCE
    trained = [*model.encoder.parameters(), *model.decoder.parameters()]
    assert model.use_ema and all(p.requires_grad for p in trained)  # the model is left as it was
    images = _jit_load(tmp_path / "decoder.torchscript.pt")(*example_inputs(model, "decoder", 3))
    assert images.shape[0] == 3 and not images.requires_grad  # no autograd in the file: .numpy() works as is


@pytest.mark.parametrize("kind,classes", MODELS)
def test_onnx_files_run_at_batch_1_and_7_as_the_model_does(kind, classes, tmp_path):
    model = _tiny(kind, num_classes=classes)
    for part in ("decoder", "encoder"):
        session = onnx_session(export_onnx(model, part, tmp_path / f"{part}.onnx"))
        names = [entry.name for entry in session.get_inputs()]
        assert all(entry.shape[0] == "batch" for entry in session.get_inputs() + session.get_outputs())
        for n in BATCHES:
            inputs = example_inputs(model, part, n, seed=5)
            found = session.run(None, {name: value.numpy() for name, value in zip(names, inputs)})
            _assert_matches(found, _expected(model, part, inputs), n)


class _FixedBatch(torch.nn.Module):
    """A decoder graph that keeps at most two rows: what a batch fixed at export looks like from outside."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph

    def forward(self, z):
        return self.graph(z)[:2]


def test_the_parity_check_runs_two_batch_sizes_and_catches_a_fixed_batch(tmp_path):
    from vaegan_core import export

    model = _tiny("vae")
    path = tmp_path / "decoder.torchscript.pt"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        torch.jit.save(torch.jit.trace(_FixedBatch(export._graph(model, "decoder")), example_inputs(model, "decoder")),
                       str(path))
    with pytest.raises(ExportError, match="gives outputs of shapes"):  # batch 1 passes, batch 16 does not
        check_parity_torchscript(model, "decoder", path)
    assert check_parity_torchscript(model, "decoder", path, n=1)["by_batch"].keys() == {"1"}
    export_torchscript(model, "decoder", path)
    model.use_ema = False  # torch now decodes with the trained weights: the file (moving average) differs
    with pytest.raises(ExportError, match="TorchScript and torch differ by up to"):
        check_parity_torchscript(model, "decoder", path)
    path.write_bytes(b"not a TorchScript file")
    with pytest.raises(ExportError, match="is not a readable TorchScript file.*export it again"):
        check_parity_torchscript(model, "decoder", path)
    with pytest.raises(ExportError, match="unknown format 'tflite'"):
        check_parity(model, "decoder", path, file_format="tflite")


# ---- vaegan export onnx|torchscript ---------------------------------------------------------------------------

def _run_cli(argv, capsys) -> tuple[int, dict | None, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err.strip()


def _run_file(path: Path, file_format: str, inputs) -> list[np.ndarray]:
    if file_format == "torchscript":
        with torch.no_grad():
            outputs = _jit_load(path)(*inputs)
        return [output.numpy() for output in (outputs if isinstance(outputs, tuple) else [outputs])]
    session = onnx_session(path)
    return session.run(None, {entry.name: value.numpy() for entry, value in zip(session.get_inputs(), inputs)})


@pytest.mark.parametrize("file_format,suffix", [("onnx", ".onnx"), ("torchscript", ".torchscript.pt")])
def test_vaegan_export_writes_checked_files_and_export_json(file_format, suffix, tmp_path, capsys):
    folder = tmp_path / "conditional"
    save_checkpoint(folder, _tiny("vaegan", num_classes=10), tiny_train_config())
    out = tmp_path / "new" / "export"  # created, parents too
    code, summary, error = _run_cli(["export", file_format, str(folder), "--out", str(out)], capsys)
    assert code == 0, error
    model = load_model(folder)
    manifest = json.loads((out / "export.json").read_text())
    assert summary["fingerprint"] == manifest["fingerprint"] == model.fingerprint
    assert manifest["format"] == file_format and manifest["checkpoint"] == str(folder)
    assert set(manifest["networks"]) == {"decoder", "encoder"} and summary["parity"].keys() == {"decoder", "encoder"}
    for part, entry in manifest["networks"].items():
        assert entry["file"] == part + suffix and str(out / entry["file"]) in summary["files"]
        assert [item["name"] for item in entry["inputs"]] == ["z" if part == "decoder" else "images", "labels"]
        assert entry["inputs"][1] == {"name": "labels", "dtype": "int64", "shape": ["batch"], "range": [0, 9]}
        assert entry["outputs"][0]["shape"][0] == "batch"
        by_batch = entry["parity"]["max_abs_diff"]
        assert by_batch == summary["parity"][part] and set(by_batch) == {"1", "16"}
        assert all(0 <= value <= PARITY_TOLERANCE for value in by_batch.values())
        for n in BATCHES:  # the files compute what the checkpoint does
            inputs = example_inputs(model, part, n, seed=2)
            _assert_matches(_run_file(out / entry["file"], file_format, inputs), _expected(model, part, inputs), n)
    assert manifest["networks"]["decoder"]["outputs"][0] == {"name": "images", "dtype": "float32",
                                                            "shape": ["batch", 1, 28, 28], "range": [0.0, 1.0]}


def test_vaegan_export_of_a_gan_exports_its_decoder_and_refuses_its_encoder(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "gan"
    code, summary, error = _run_cli(["export", "torchscript", str(tiny_zoo["gan"]), "--out", str(out), "--no-check"],
                                    capsys)
    assert code == 0, error
    assert summary["parity"] == {"decoder": None} and sorted(path.name for path in out.iterdir()) == [
        "decoder.torchscript.pt", "export.json"]
    for file_format in ("onnx", "torchscript"):
        code, _, error = _run_cli(["export", file_format, str(tiny_zoo["gan"]), "--out", str(tmp_path / "e"),
                                   "--part", "encoder"], capsys)
        assert code == 2 and len(error.splitlines()) == 1 and "Traceback" not in error
        assert "GAN, which has no encoder" in error and not (tmp_path / "e").exists()


def test_vaegan_export_refuses_an_out_that_is_a_file_and_says_what_to_install(tiny_zoo, tmp_path, capsys, monkeypatch):
    target = tmp_path / "taken"
    target.write_text("mine")
    code, _, error = _run_cli(["export", "onnx", str(tiny_zoo["vae"]), "--out", str(target)], capsys)
    assert code == 2 and len(error.splitlines()) == 1 and "is a file" in error and target.read_text() == "mine"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, _, error = _run_cli(["export", "onnx", str(tiny_zoo["vae"]), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and len(error.splitlines()) == 1 and "pip install onnx onnxruntime" in error
    code, summary, error = _run_cli(["export", "torchscript", str(tiny_zoo["vae"]), "--out", str(tmp_path / "t"),
                                     "--part", "encoder"], capsys)  # TorchScript needs torch alone
    assert code == 0 and list(summary["parity"]) == ["encoder"], error


# ---- vaegan export-web --------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_zoo(tmp_path) -> dict[str, Path]:
    """A tiny untrained GAN, VAE (with a GMM prior) and VAE-GAN on digits, saved as checkpoint folders."""
    folders = {}
    for kind in ("gan", "vae", "vaegan"):
        folders[kind] = tmp_path / "zoo" / kind
        save_checkpoint(folders[kind], _tiny(kind), tiny_train_config())
    generator = torch.Generator().manual_seed(1)
    means = torch.randn(3, 8, generator=generator)
    LatentGMM(torch.tensor([0.2, 0.3, 0.5]), means, torch.eye(8).repeat(3, 1, 1) * 0.5).save(folders["vae"])
    return folders


def test_export_web_writes_what_the_explorer_reads(tiny_zoo, web_dir, tmp_path):
    out = tmp_path / "site"
    summary = web_export.export_web(out, [str(folder) for folder in tiny_zoo.values()], n_images=12, web_dir=web_dir)
    assert summary["datasets"] == {"digits": ["gan", "vae", "vaegan"]}
    index = json.loads((out / "explorer.json").read_text())
    assert index["datasets"][0]["manifest"] == "digits/manifest.json"
    for name in ("index.html", "style.css", "js/main.js", "ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm.gz"):
        assert (out / name).is_file(), name
    # the runtime's binary goes gzipped (the page unpacks it): the same bytes as node_modules' once unpacked
    source = web_dir / web_export.ORT_DIST / web_export.ORT_BINARY
    assert gzip.decompress((out / "ort" / (web_export.ORT_BINARY + ".gz")).read_bytes()) == source.read_bytes()
    assert not (out / "ort" / web_export.ORT_BINARY).exists()
    manifest = json.loads((out / "digits" / "manifest.json").read_text())
    assert (manifest["count"], manifest["channels"], manifest["height"]) == (12, 1, 28)
    assert len(manifest["labels"]) == 12 and manifest["class_names"][3] == "3"
    assert (out / "digits" / "images.bin").stat().st_size == 12 * 28 * 28
    models = manifest["models"]
    assert models["gan"]["encoder"] is None and models["gan"]["codes"] is None and "no encoder" in models["gan"]["gmm_note"]
    assert set(models["vae"]["parity"]) == {"decoder", "encoder"}
    assert all(value <= PARITY_TOLERANCE for model in models.values() for value in model["parity"].values())
    # the codes are the encoder's mu of the exported test images
    from vaegan_core.training.data import load_dataset

    images = load_dataset("digits", "test")[0][:12].float() / 255
    vae = load_model(tiny_zoo["vae"])
    codes = np.fromfile(out / "digits" / "vae" / "codes.bin", dtype="<f4").reshape(12, 8)
    np.testing.assert_allclose(codes, vae.encode(images)[0].numpy(), atol=1e-6)
    # the GMM: weights K, means K x d, Cholesky K x d x d
    assert models["vae"]["gmm"] == {"file": "vae/gmm.bin", "components": 3}
    gmm = np.fromfile(out / "digits" / "vae" / "gmm.bin", dtype="<f4")
    assert gmm.size == 3 + 3 * 8 + 3 * 8 * 8 and np.allclose(gmm[:3], [0.2, 0.3, 0.5])
    assert models["vaegan"]["gmm"] is None and "vaegan" in models and "fit-gmm" in models["vaegan"]["gmm_note"]
    # a second export into the same folder is fine (an earlier export's plain runtime binary goes); a folder of other
    # things is refused
    (out / "ort" / web_export.ORT_BINARY).write_bytes(b"an older export's copy")
    web_export.export_web(out, [str(tiny_zoo["gan"])], n_images=4, web_dir=web_dir)
    assert not (out / "ort" / web_export.ORT_BINARY).exists() and (out / "ort" / (web_export.ORT_BINARY + ".gz")).is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty and holds no earlier export"):
        web_export.export_web(tmp_path / "other", [str(tiny_zoo["gan"])], web_dir=web_dir)


def test_export_web_refuses_two_of_a_kind_and_a_conditional_model_alone(tiny_zoo, web_dir, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(tiny_zoo["gan"], twin)
    with pytest.raises(ExportError, match="two GAN checkpoints for digits"):
        web_export.export_web(tmp_path / "a", [str(tiny_zoo["gan"]), str(twin)], web_dir=web_dir)
    conditional = tmp_path / "conditional"
    save_checkpoint(conditional, _tiny("vae", num_classes=10), tiny_train_config())
    with pytest.raises(ExportError, match="needs an unconditional GAN, VAE or VAE-GAN of digits"):
        web_export.export_web(tmp_path / "b", [str(conditional)], web_dir=web_dir)  # the Conditional view is one more


def test_export_web_without_node_modules_says_to_run_npm_ci(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(web_export, "WEB_SOURCE", tmp_path / "web")
    assert main(["export-web", "--out", str(tmp_path / "site")]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "npm ci --prefix" in error and "ONNX Runtime Web is not installed" in error
    assert not (tmp_path / "site").exists()  # nothing written before the check


def test_vaegan_web_serves_the_folder_with_module_and_wasm_types(tiny_zoo, web_dir, tmp_path):
    with pytest.raises(ExportError, match="holds no explorer.*vaegan export-web --out"):
        web_export.make_server(tmp_path, port=0)
    out = tmp_path / "site"
    web_export.export_web(out, [str(tiny_zoo["gan"])], n_images=4, web_dir=web_dir)
    server = web_export.make_server(out, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        for name, kind in [("ort/ort.wasm.min.mjs", "text/javascript"), ("js/main.js", "text/javascript"),
                           ("ort/ort-wasm-simd-threaded.wasm.gz", "application/gzip"),
                           ("explorer.json", "application/json")]:
            with urllib.request.urlopen(base + name) as response:
                assert response.headers["Content-Type"].startswith(kind), name
                assert response.headers["Content-Encoding"] is None, name  # the page unpacks the .gz itself
                assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    finally:
        server.shutdown()
        server.server_close()
