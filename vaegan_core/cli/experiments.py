"""`vaegan collapse`, `export-web` and `web`: the model-collapse study and the explorer in the browser."""

from __future__ import annotations

import argparse
import sys

from ..config import COLLAPSE_LOOPS, DATASETS, MAX_WIDTH, MODEL_KINDS
from .common import shared, MAX_EVAL_IMAGES, _Interrupted, _UsageError, _int_in, _non_negative_float, _percent_bar, _seed





def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    collapse = commands.add_parser("collapse", parents=shared(data_dir=True, no_progress=True, device="auto"),
                                   help="model collapse: train each generation on the last one's samples")
    collapse.add_argument("--model", choices=MODEL_KINDS, default="vaegan")
    collapse.add_argument("--dataset", choices=DATASETS, default="mnist")
    collapse.add_argument("--generations", type=_int_in(1, 100), default=5, help="generations after generation 0")
    collapse.add_argument("--per-generation", type=_int_in(1, 70_000), default=5000, help="training images per generation")
    collapse.add_argument("--loop", choices=COLLAPSE_LOOPS, default="synthetic",
                          help="what generation k trains on besides samples of generation k-1")
    collapse.add_argument("--real-fraction", type=_non_negative_float, default=0.0,
                          help="share of real images in generations >= 1 (fixed-real / fresh-real)")
    collapse.add_argument("--accumulate", action="store_true", help="keep every earlier generation's data too")
    collapse.add_argument("--epochs", type=_int_in(1, 1000), default=8, help="epochs per generation")
    collapse.add_argument("--width", type=_int_in(1, MAX_WIDTH), default=32,
                          help="network width (16 is faster, but the VAE-GAN does not learn at 16)")
    collapse.add_argument("--eval-n", type=_int_in(2, MAX_EVAL_IMAGES), default=2000, help="samples measured per generation")
    collapse.add_argument("--seed", type=_seed, default=0)
    collapse.add_argument("--start-from", metavar="DIR", default="",
                          help="a trained checkpoint as generation 0 (its width and latent size); each later "
                               "generation fine-tunes the one before (cheap, and it starts from a good model)")
    collapse.add_argument("--out", required=True, help="study folder (results.json, grids/); rerun to resume")

    export_web = commands.add_parser(
        "export-web", help="export models for the in-browser explorer (ONNX decoders and encoders, test images)",
        description="Write a static folder the browser explorer runs from: each model's decoder (and encoder) as "
                    "ONNX, checked against torch, its GMM prior, codes of the first test images, the scores of "
                    "metrics.json, and the explorer's HTML/JS with ONNX Runtime Web (`npm ci --prefix web` first).")
    export_web.add_argument("checkpoints", nargs="*", metavar="CHECKPOINT",
                            help="checkpoint folders (default: the shipped mnist and fashion-mnist models)")
    export_web.add_argument("--out", required=True, help="folder to write (new, empty, or an earlier export)")
    export_web.add_argument("--images", type=_int_in(1, 10_000), default=300,
                            help="test images (and their codes) per dataset (default 300)")
    export_web.add_argument("--quiet", action="store_true", help="no progress lines")

    web = commands.add_parser("web", help="serve an exported explorer folder on a local web server",
                              description="Serve the folder `vaegan export-web` wrote (Ctrl-C stops); "
                                          "`python -m http.server` in the folder works too.")
    web.add_argument("folder", metavar="DIR", help="the folder of `vaegan export-web --out DIR`")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=_int_in(0, 65535), default=8000, help="port (default 8000; 0: any free port)")

    return HANDLERS


def _collapse(args: argparse.Namespace) -> dict:
    from ..experiments.collapse_images import ImageCollapseConfig, run

    config = ImageCollapseConfig(
        model=args.model, dataset=args.dataset, generations=args.generations, per_generation=args.per_generation,
        loop=args.loop, real_fraction=args.real_fraction, accumulate=args.accumulate, epochs=args.epochs,
        width=args.width, eval_n=args.eval_n, seed=args.seed, device=args.device, start_from=args.start_from)
    with _percent_bar(args.no_progress) as progress:
        try:
            results = run(config, args.out, data_root=args.data_dir, progress=progress)
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted; finished generations are in {args.out}/results.json: "
                               "rerun the same command to resume") from None
    return {"out": args.out, "generations": [
        {key: row[key] for key in ("generation", "fid", "precision", "recall", "classes_covered")}
        for row in results["generations"]]}


def _export_web(args: argparse.Namespace) -> dict:
    from ..web_export import export_web

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    return export_web(args.out, args.checkpoints, n_images=args.images, progress=progress)


def _web(args: argparse.Namespace) -> dict:
    from ..web_export import make_server

    try:
        server = make_server(args.folder, args.host, args.port)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise _UsageError(f"cannot listen on {args.host}:{args.port} ({error.strerror or error}); pass another "
                          "--port (0: any free port) or --host") from None
    host, port = server.server_address[:2]
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"
    print(f"vaegan web: serving {args.folder} at {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return {"served": args.folder, "url": url}


HANDLERS = {"collapse": _collapse, "export-web": _export_web, "web": _web}
