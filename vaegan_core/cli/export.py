"""`vaegan export onnx|torchscript`: a checkpoint's decoder and encoder as files other programs run."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import _UsageError

FORMATS = ("onnx", "torchscript")  # vaegan_core.export.FORMATS, without importing torch for --help
PARTS = ("decoder", "encoder", "all")


def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    export = commands.add_parser(
        "export", help="export a checkpoint's decoder and encoder to ONNX or TorchScript, checked against torch",
        description="Write the decoder (codes -> images in [0, 1]) and the encoder (images -> mu, logvar) of a "
                    "checkpoint as ONNX (onnxruntime) or TorchScript (torch.jit.load) files with a dynamic batch, "
                    "each checked against the model at batch sizes 1 and 16, and DIR/export.json describing them. "
                    "An export into the folder of an earlier one replaces it: the network files export.json no "
                    "longer lists are removed (no other file).")
    export.add_argument("format", choices=FORMATS,
                        help='onnx (needs onnx and onnxruntime: pip install "vaegan[export]") or torchscript')
    export.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="checkpoint folder, or Hub repo USER/NAME or hf://USER/NAME[@REVISION]")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write (created when missing)")
    export.add_argument("--part", choices=PARTS, default="all",
                        help="the network to export (default all: the decoder, and the encoder when the model has "
                             "one; a GAN has none)")
    export.add_argument("--no-check", action="store_true",
                        help="skip the parity check of the files against torch")
    return HANDLERS


def _export(args: argparse.Namespace) -> dict:
    from ..export import export_files, has_part, require_onnx
    from ..storage.checkpoint import load_model

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _UsageError(f"--out {args.out} is a file; name a folder (created when missing)")
    if args.format == "onnx":
        require_onnx()  # before loading the model: the one step that needs optional packages
    model = load_model(args.checkpoint)
    if args.part != "all" and not has_part(model, args.part):
        raise _UsageError(f"{args.checkpoint} is a {model.kind.upper()}, which has no {args.part}; export its decoder "
                          "(--part decoder or --part all)")
    parts = None if args.part == "all" else [args.part]
    manifest = export_files(model, args.format, out, parts=parts, check=not args.no_check, source=args.checkpoint)
    networks = manifest["networks"]
    return {"out": str(out), "format": args.format, "checkpoint": args.checkpoint,
            "fingerprint": manifest["fingerprint"],
            "files": [str(out / entry["file"]) for entry in networks.values()] + [str(out / "export.json")],
            "parity": {part: entry["parity"] and entry["parity"]["max_abs_diff"] for part, entry in networks.items()},
            "tolerance": manifest["parity_tolerance"]}


HANDLERS = {"export": _export}
