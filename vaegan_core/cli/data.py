"""`vaegan data fetch`: MNIST and Fashion-MNIST into the data folder, downloaded (by torchvision) only when missing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FETCHABLE = ("mnist", "fashion-mnist")


def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    data = commands.add_parser("data", help="fetch MNIST and Fashion-MNIST (vaegan data fetch)")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="download the datasets missing from the data folder",
        description="For each dataset: nothing when both splits already load from the data folder; otherwise a "
                    "torchvision download, its IDX files moved into DIR/mnist/ or DIR/fashion-mnist/. Offline, "
                    "put the files there yourself (docs/data.md).")
    fetch.add_argument("--dataset", choices=FETCHABLE + ("all",), default="all", help="default all")
    fetch.add_argument("--data-dir", metavar="DIR",
                       help="the data folder (default: $VAEGAN_DATA_DIR, else ~/.cache/vaegan-data)")
    return HANDLERS


def _data(args: argparse.Namespace) -> dict:
    from ..training.data import default_cache_dir, download, splits_missing

    root = Path(args.data_dir or os.environ.get("VAEGAN_DATA_DIR") or default_cache_dir())
    result: dict = {"data_dir": str(root)}
    for name in FETCHABLE if args.dataset == "all" else (args.dataset,):
        if splits_missing(name, root) is None:
            print(f"{name}: already in {root}", file=sys.stderr)
            result[name] = "already there"
            continue
        folder = download(name, root)
        print(f"{name}: downloaded into {folder}", file=sys.stderr)
        result[name] = "downloaded"
    return result


HANDLERS = {"data": _data}
