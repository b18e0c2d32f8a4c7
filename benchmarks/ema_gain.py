"""What the moving average of the decoder's weights buys: domain FID of one checkpoint sampled through the
average and through the trained weights, against the *train* split (so the choice never looks at the test split).

    python benchmarks/ema_gain.py DIR [DIR ...] [--n 10000] [--seed 0]

Each DIR is a checkpoint trained with `vaegan train --ema-decay D`; both decoders are in its model.safetensors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage.checkpoint import load_model, read_config  # noqa: E402
from vaegan_core.errors import VaeganError  # noqa: E402
from vaegan_core.metrics.evaluate import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", metavar="DIR")
    parser.add_argument("--n", type=int, default=10_000, help="generated images per FID (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| checkpoint | epoch | EMA decay | domain FID, trained weights | domain FID, moving average | ratio |")
    print("|---|---|---|---|---|---|")
    for folder in args.checkpoints:
        try:
            config = read_config(folder)
            model = load_model(folder)
            if model.decoder_ema is None:
                sys.exit(f"ema_gain: {folder} has no moving average; train it with --ema-decay 0.999")
            fids = {}
            for use_ema in (False, True):
                model.use_ema = use_ema
                result = evaluate(model, config["train_config"].dataset, n=args.n, extractor="lenet",
                                  metrics=("fid",), split="train", seed=args.seed)
                fids[use_ema] = result["metrics"]["fid"]
        except VaeganError as error:
            sys.exit(f"ema_gain: {error}")
        print(f"| {folder} | {config['state'].get('epoch')} | {model.config.ema_decay} | {fids[False]:.2f} | "
              f"{fids[True]:.2f} | {fids[True] / fids[False]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
