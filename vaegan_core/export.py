"""A model's networks as ONNX or TorchScript files, with the model's own inference semantics, and a parity check.

    from vaegan_core.export import export_onnx, export_torchscript, check_parity, export_files
    export_onnx(model, "decoder", "decoder.onnx")     # z B x d (and labels B) -> images B x C x H x W in [0, 1]
    export_onnx(model, "encoder", "encoder.onnx")     # images B x C x H x W in [0, 1] (and labels B) -> mu, logvar
    check_parity(model, "decoder", "decoder.onnx")    # onnxruntime against torch on fixed inputs, batch 1 and 16
    export_torchscript(model, "decoder", "decoder.torchscript.pt")   # the same graph for torch.jit.load
    check_parity_torchscript(model, "decoder", "decoder.torchscript.pt")
    export_files(model, "onnx", "out")                # every network + out/export.json (`vaegan export onnx`)

The exported graphs compute what ``model.decode`` and ``model.encode`` return: the decoder the model samples with
(the moving average of its weights when it has one and ``use_ema``), the sigmoid to [0, 1] included; the encoder's
(mu, logvar). A conditional model's graphs take the labels as a second input (int64, one per row). The batch axis
is dynamic. The export runs on a private CPU copy of the network in float32 and the default memory layout, so the
model itself (its device, channels_last layout, EMA setting) is left as it was.

Used by ``vaegan export onnx|torchscript`` (``export_files``) and ``vaegan export-web`` (the browser explorer,
``vaegan_core.web_export``). onnx and onnxruntime are optional: without them the ONNX export says in one line what to
install; the TorchScript export needs torch alone.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .errors import VaeganError
from .storage.files import atomic_write, write_text_atomic

PARTS = ("decoder", "encoder")
FORMATS = ("onnx", "torchscript")
FILE_NAMES = {"onnx": "{part}.onnx", "torchscript": "{part}.torchscript.pt"}
MANIFEST = "export.json"  # what export_files writes beside the networks
OPSET = 17  # every op of the networks (ConvTranspose, BatchNorm folded, LeakyReLU, Sigmoid) is in opset 17; ORT Web runs it
PARITY_TOLERANCE = 1e-3  # max abs difference, exported file against torch, on images in [0, 1] and on codes
TRACE_BATCH = 2  # the batch the TorchScript graph is traced at; the parity check runs other sizes (1 and n)
INPUT_NAMES = {"decoder": ["z"], "encoder": ["images"]}
OUTPUT_NAMES = {"decoder": ["images"], "encoder": ["mu", "logvar"]}
LABELS_INPUT = "labels"
INSTALL = 'pip install "vaegan[export]"'  # the extra of onnx and onnxruntime (pyproject.toml)


class ExportError(VaeganError):
    """A network cannot be exported (no such network, a missing optional package, a failed parity check)."""


def require_onnx():
    """``(onnx, onnxruntime)``, imported on first use; a one-line ExportError naming the install when missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        raise ExportError(f"exporting to ONNX needs the onnx and onnxruntime packages ({error.name} is missing): "
                          f"{INSTALL} (or pip install onnx onnxruntime)") from None
    return onnx, onnxruntime


class _DecoderGraph(nn.Module):
    """The decoder as ``model.decode`` runs it: codes (and labels) -> sigmoid(logits), images in [0, 1]."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z, labels))


class _EncoderGraph(nn.Module):
    """The encoder as ``model.encode`` runs it: images in [0, 1] (and labels) -> (mu, logvar)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        return self.encoder(images, labels)


def has_part(model, part: str) -> bool:
    """Whether ``model`` has the network ``part`` (every model a decoder; VAE and VAE-GAN an encoder)."""
    _check_part(part)
    return part == "decoder" or model.has_encoder


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise ExportError(f"unknown network {part!r}; choose one of {', '.join(PARTS)}")


def _graph_check(model, part: str) -> None:
    """The ExportError of ``_graph`` (an unknown part, a GAN's encoder) before any file is written."""
    _check_part(part)
    if not has_part(model, part):
        raise ExportError(f"a {model.kind.upper()} has no encoder to export; export its decoder, or use a VAE or "
                          "VAE-GAN")


def _graph(model, part: str) -> nn.Module:
    """A CPU float32 copy of the network ``part`` of ``model`` in eval mode, wrapped with its output transform."""
    _graph_check(model, part)
    network = model.sampling_decoder if part == "decoder" else model.encoder
    network = copy.deepcopy(network).to("cpu", torch.float32).to(memory_format=torch.contiguous_format).eval()
    network.requires_grad_(False)  # the files' outputs need no autograd (and a TorchScript user can call .numpy())
    return _DecoderGraph(network) if part == "decoder" else _EncoderGraph(network)


def example_inputs(model, part: str, n: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Fixed inputs for ``part``: n codes ~ N(0, I) (decoder) or n images uniform in [0, 1] (encoder), and for a
    conditional model n labels 0, 1, 2, ... (mod the classes); all on the CPU, seeded."""
    _check_part(part)
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    if part == "decoder":
        first = torch.randn(n, config.latent_dim, generator=generator)
    else:
        first = torch.rand(n, config.channels, config.image_size, config.image_size, generator=generator)
    if config.num_classes:
        return first, torch.arange(n) % config.num_classes
    return (first,)


def export_onnx(model, part: str, path: str | os.PathLike) -> Path:
    """Write the network ``part`` ("decoder" or "encoder") of ``model`` to ``path`` as one self-contained ONNX
    file (opset ``OPSET``, dynamic batch axis), atomically. Inputs: ``z`` (B x latent_dim, float32) or ``images``
    (B x C x H x W, float32 in [0, 1]), plus ``labels`` (B, int64) for a conditional model. Outputs: ``images``
    (B x C x H x W in [0, 1]) or ``mu`` and ``logvar`` (B x latent_dim). Returns the path."""
    require_onnx()  # torch.onnx.export needs onnx; the parity check needs onnxruntime
    graph = _graph(model, part)
    inputs = example_inputs(model, part)
    input_names = INPUT_NAMES[part] + ([LABELS_INPUT] if len(inputs) > 1 else [])
    output_names = OUTPUT_NAMES[part]
    dynamic = {name: {0: "batch"} for name in input_names + output_names}
    path = Path(path)

    def write(temporary: str) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice and tracer chatter
            torch.onnx.export(graph, inputs, temporary, opset_version=OPSET, dynamo=False, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic, do_constant_folding=True)

    atomic_write(path, write)
    return path


def onnx_session(path: str | os.PathLike, threads: int = 1):
    """An onnxruntime CPU session of the ONNX file at ``path``; a file it cannot read is an ExportError."""
    _, onnxruntime = require_onnx()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime's own errors for missing, truncated or foreign files
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"{path} is not a readable ONNX file ({reason[:200]}); export it again") from None


def export_torchscript(model, part: str, path: str | os.PathLike) -> Path:
    """Write the network ``part`` ("decoder" or "encoder") of ``model`` to ``path`` as a TorchScript file
    (``torch.jit.load`` reads it), atomically: the graph ``export_onnx`` writes, with the same inputs (``z`` or
    ``images``, plus ``labels`` for a conditional model) and outputs (images in [0, 1], or the tuple (mu, logvar)).
    Traced at batch ``TRACE_BATCH`` from a private CPU float32 copy; the batch stays dynamic (the trace is run at
    another batch size before anything is written). Returns the path."""
    graph = _graph(model, part)
    inputs = example_inputs(model, part, TRACE_BATCH)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notice
        traced = torch.jit.trace(graph, inputs, check_trace=False)
        other = example_inputs(model, part, TRACE_BATCH + 1, seed=1)
        found, expected = _as_list(traced(*other)), _as_list(graph(*other))
    if [tuple(t.shape) for t in found] != [tuple(t.shape) for t in expected]:
        raise ExportError(f"the traced {part} fixed its batch at {TRACE_BATCH}; it cannot be exported to TorchScript")
    path = Path(path)

    def write(temporary: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.save's deprecation notice
            torch.jit.save(traced, temporary)

    atomic_write(path, write)
    return path


def _as_list(outputs) -> list[torch.Tensor]:
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def torchscript_module(path: str | os.PathLike):
    """The TorchScript file at ``path`` on the CPU; a file torch cannot read is an ExportError. Load only files you
    wrote or trust: TorchScript is code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as error:  # noqa: BLE001 - torch's own errors for missing, truncated or foreign files
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"{path} is not a readable TorchScript file ({reason[:200]}); export it again") from None


def _runner(path: str | os.PathLike, file_format: str):
    """``(input names, run)`` of the exported file at ``path``: ``run(tensors)`` gives its outputs as numpy arrays."""
    if file_format == "onnx":
        session = onnx_session(path)
        names = [entry.name for entry in session.get_inputs()]
        return names, lambda inputs: session.run(None, {name: value.numpy() for name, value in zip(names, inputs)})
    module = torchscript_module(path)
    names = [argument.name for argument in module.forward.schema.arguments[1:]]  # after self

    def run(inputs):
        with torch.no_grad():
            return [tensor.numpy() for tensor in _as_list(module(*inputs))]

    return names, run


def check_parity(model, part: str, path: str | os.PathLike, n: int = 16, seed: int = 0,
                 tolerance: float = PARITY_TOLERANCE, file_format: str = "onnx") -> dict:
    """Run the exported file at ``path`` (onnxruntime for ``file_format`` "onnx", torch.jit.load for "torchscript")
    and ``model`` with torch (``decode`` or ``encode``) on the same fixed inputs (``example_inputs(model, part,
    size, seed)``) at two batch sizes, 1 and ``n`` (so a batch fixed at export fails); returns ``{"part",
    "format", "n", "max_abs_diff", "by_batch": {"1": diff, "n": diff}, "tolerance"}`` and raises an ExportError
    when the largest absolute difference is above ``tolerance``."""
    _check_format(file_format)
    names, run = _runner(path, file_format)
    tool = "onnxruntime" if file_format == "onnx" else "TorchScript"
    by_batch = {}
    for size in sorted({1, n}) if n > 1 else [n]:
        by_batch[str(size)] = difference = _difference(model, part, path, names, run, size, seed)
        if not difference <= tolerance:  # (a NaN fails too)
            raise ExportError(f"{path}: {tool} and torch differ by up to {difference:.2e} on {size} fixed inputs "
                              f"(tolerance {tolerance:.0e}); the exported {part} does not compute what the model does")
    return {"part": part, "format": file_format, "n": n, "max_abs_diff": max(by_batch.values()), "by_batch": by_batch,
            "tolerance": tolerance}


def check_parity_torchscript(model, part: str, path: str | os.PathLike, **options) -> dict:
    """``check_parity`` of a TorchScript file (``export_torchscript``)."""
    return check_parity(model, part, path, file_format="torchscript", **options)


def _difference(model, part: str, path, names: list[str], run, n: int, seed: int) -> float:
    """The largest absolute difference between the exported file (``run``) and ``model`` on n fixed inputs."""
    import numpy as np

    inputs = example_inputs(model, part, n, seed)
    if len(names) != len(inputs):
        raise ExportError(f"{path} takes {len(names)} input(s), the {part} of this model {len(inputs)}; export it "
                          "again from this checkpoint")
    try:
        found = run(inputs)
    except Exception as error:  # noqa: BLE001 - a runtime's own error on a batch the file does not take
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"{path} fails on a batch of {n} ({reason[:200]}); export it again") from None
    labels = inputs[1] if len(inputs) > 1 else None
    expected = [model.decode(inputs[0], labels)] if part == "decoder" else list(model.encode(inputs[0], labels))
    if len(found) != len(expected) or any(a.shape != tuple(b.shape) for a, b in zip(found, expected)):
        raise ExportError(f"{path} gives outputs of shapes {[a.shape for a in found]}, the model "
                          f"{[tuple(b.shape) for b in expected]}; export it again from this checkpoint")
    return max(float(np.abs(a - b.numpy()).max()) for a, b in zip(found, expected)) if n else 0.0


def _check_format(file_format: str) -> None:
    if file_format not in FORMATS:
        raise ExportError(f"unknown format {file_format!r}; choose one of {', '.join(FORMATS)}")


def describe(model, part: str) -> dict:
    """The inputs and outputs of the exported ``part``: name, dtype, shape ("batch" the dynamic axis) and range."""
    config = model.config
    image = ["batch", config.channels, config.image_size, config.image_size]
    codes = ["batch", config.latent_dim]
    if part == "decoder":
        inputs = [{"name": "z", "dtype": "float32", "shape": codes, "range": "codes; the prior is N(0, I)"}]
        outputs = [{"name": "images", "dtype": "float32", "shape": image, "range": [0.0, 1.0]}]
    else:
        inputs = [{"name": "images", "dtype": "float32", "shape": image, "range": [0.0, 1.0]}]
        outputs = [{"name": name, "dtype": "float32", "shape": codes, "range": "unbounded"} for name in ("mu", "logvar")]
    if config.num_classes:
        inputs.append({"name": LABELS_INPUT, "dtype": "int64", "shape": ["batch"],
                       "range": [0, config.num_classes - 1]})
    return {"inputs": inputs, "outputs": outputs}


def export_files(model, file_format: str, out: str | os.PathLike, parts=None, check: bool = True,
                 source: str | None = None) -> dict:
    """Write the networks ``parts`` of ``model`` (default: those it has) into the folder ``out`` (created when
    missing) as ``file_format`` files (``FILE_NAMES``), each checked against torch with ``check_parity`` unless
    ``check`` is false, and ``out/export.json``: the format, the checkpoint (``source``) and its fingerprint, per
    network its file, inputs, outputs and parity. Returns what export.json holds."""
    from . import __version__

    _check_format(file_format)
    if file_format == "onnx":
        require_onnx()
    parts = [part for part in PARTS if has_part(model, part)] if parts is None else list(parts)
    for part in parts:
        _graph_check(model, part)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; the export writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    earlier = _exported_files(out)  # what an earlier export into this folder wrote: gone if this one does not
    config = model.config
    manifest = {"format": file_format, "vaegan_version": __version__, "torch_version": torch.__version__,
                "opset": OPSET if file_format == "onnx" else None, "checkpoint": source,
                "fingerprint": getattr(model, "fingerprint", None),
                "model": {"kind": model.kind, "latent_dim": config.latent_dim, "channels": config.channels,
                          "image_size": config.image_size, "num_classes": config.num_classes},
                "parity_tolerance": PARITY_TOLERANCE if check else None, "networks": {}}
    exporter = export_onnx if file_format == "onnx" else export_torchscript
    for part in parts:
        path = exporter(model, part, out / FILE_NAMES[file_format].format(part=part))
        entry = {"file": path.name, "bytes": path.stat().st_size, **describe(model, part), "parity": None}
        if check:  # {"max_abs_diff": {"1": ..., "16": ...}}: per batch size
            entry["parity"] = {"max_abs_diff": check_parity(model, part, path, file_format=file_format)["by_batch"]}
        manifest["networks"][part] = entry
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=1))
    for name in earlier - {entry["file"] for entry in manifest["networks"].values()}:
        with contextlib.suppress(OSError):  # gone already, or not ours to remove: the new files are written
            (out / name).unlink()  # the folder holds what export.json lists (other files are not the export's)
    return manifest


def _exported_files(out: Path) -> set[str]:
    """The network files an earlier ``export_files`` wrote into ``out``, as its export.json lists them: only names
    this module gives its files (``FILE_NAMES``), plain files in ``out`` itself; nothing when there is no readable
    export.json."""
    ours = {pattern.format(part=part) for pattern in FILE_NAMES.values() for part in PARTS}
    try:
        networks = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("networks")
        listed = {entry.get("file") for entry in networks.values()}
    except (OSError, ValueError, AttributeError, TypeError):  # none, unreadable, or not an export's manifest
        return set()
    return {name for name in listed if name in ours and (path := out / name).is_file() and not path.is_symlink()}
