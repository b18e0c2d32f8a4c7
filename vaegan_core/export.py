"""A model's networks as ONNX files, with the model's own inference semantics, and a parity check.

    from vaegan_core.export import export_onnx, check_parity
    export_onnx(model, "decoder", "decoder.onnx")     # z B x d (and labels B) -> images B x C x H x W in [0, 1]
    export_onnx(model, "encoder", "encoder.onnx")     # images B x C x H x W in [0, 1] (and labels B) -> mu, logvar
    check_parity(model, "decoder", "decoder.onnx")    # onnxruntime against torch on fixed inputs

The exported graphs compute what ``model.decode`` and ``model.encode`` return: the decoder the model samples with
(the moving average of its weights when it has one and ``use_ema``), the sigmoid to [0, 1] included; the encoder's
(mu, logvar). A conditional model's graphs take the labels as a second input (int64, one per row). The batch axis
is dynamic. The export runs on a private CPU copy of the network in float32 and the default memory layout, so the
model itself (its device, channels_last layout, EMA setting) is left as it was.

Used by ``vaegan export-web`` (the browser explorer, ``vaegan_core.web_export``) and meant for a general
``vaegan export onnx``. onnx and onnxruntime are optional: without them this module says in one line what to install.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .errors import VaeganError
from .storage.files import atomic_write

PARTS = ("decoder", "encoder")
OPSET = 17  # every op of the networks (ConvTranspose, BatchNorm folded, LeakyReLU, Sigmoid) is in opset 17; ORT Web runs it
PARITY_TOLERANCE = 1e-3  # max abs difference, onnxruntime against torch, on images in [0, 1] and on codes
INPUT_NAMES = {"decoder": ["z"], "encoder": ["images"]}
OUTPUT_NAMES = {"decoder": ["images"], "encoder": ["mu", "logvar"]}
LABELS_INPUT = "labels"


class ExportError(VaeganError):
    """A network cannot be exported (no such network, a missing optional package, a failed parity check)."""


def require_onnx():
    """``(onnx, onnxruntime)``, imported on first use; a one-line ExportError naming the install when missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        raise ExportError(f"exporting to ONNX needs the onnx and onnxruntime packages ({error.name} is missing): "
                          "pip install onnx onnxruntime") from None
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


def _graph(model, part: str) -> nn.Module:
    """A CPU float32 copy of the network ``part`` of ``model`` in eval mode, wrapped with its output transform."""
    _check_part(part)
    if not has_part(model, part):
        raise ExportError(f"a {model.kind.upper()} has no encoder to export; export its decoder, or use a VAE or "
                          "VAE-GAN")
    network = model.sampling_decoder if part == "decoder" else model.encoder
    network = copy.deepcopy(network).to("cpu", torch.float32).to(memory_format=torch.contiguous_format).eval()
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


def check_parity(model, part: str, path: str | os.PathLike, n: int = 16, seed: int = 0,
                 tolerance: float = PARITY_TOLERANCE) -> dict:
    """Run the ONNX file at ``path`` with onnxruntime and ``model`` with torch (``decode`` or ``encode``) on the
    same fixed inputs (``example_inputs(model, part, n, seed)``); returns ``{"part", "n", "max_abs_diff",
    "tolerance"}`` and raises an ExportError when the largest absolute difference is above ``tolerance``."""
    import numpy as np

    inputs = example_inputs(model, part, n, seed)
    session = onnx_session(path)
    names = [entry.name for entry in session.get_inputs()]
    if len(names) != len(inputs):
        raise ExportError(f"{path} takes {len(names)} input(s), the {part} of this model {len(inputs)}; export it "
                          "again from this checkpoint")
    found = session.run(None, {name: value.numpy() for name, value in zip(names, inputs)})
    labels = inputs[1] if len(inputs) > 1 else None
    if part == "decoder":
        expected = [model.decode(inputs[0], labels)]
    else:
        expected = list(model.encode(inputs[0], labels))
    if len(found) != len(expected) or any(a.shape != tuple(b.shape) for a, b in zip(found, expected)):
        raise ExportError(f"{path} gives outputs of shapes {[a.shape for a in found]}, the model "
                          f"{[tuple(b.shape) for b in expected]}; export it again from this checkpoint")
    difference = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(found, expected)) if n else 0.0
    if not difference <= tolerance:  # (a NaN fails too)
        raise ExportError(f"{path}: onnxruntime and torch differ by up to {difference:.2e} on {n} fixed inputs "
                          f"(tolerance {tolerance:.0e}); the exported {part} does not compute what the model does")
    return {"part": part, "n": n, "max_abs_diff": difference, "tolerance": tolerance}
