"""How the starting spread of a conditional model's label embeddings steers what it learns.

    OMP_NUM_THREADS=1 python benchmarks/label_init.py --kind vae --stds 1.0,0.113,0.02 --encoder-std 0.02 --epochs 5

Each run: `vaegan train --conditional` (MNIST, width 32, seed 0, the given epochs, one thread) with the decoder's
label embedding re-drawn from N(0, std^2) before the first step (and the encoder's from N(0, encoder_std^2); by
default the same std), then label adherence, per-class and plain domain FID and recall of 5,000 samples against
the test split, and the linear label probe on the codes of the 10,000 test images. 1.0 is torch's default, 0.113
the code's own spread in the decoder's projection (0.02 sqrt(32)), 0.02 a one-hot input block's. Rows are appended
to benchmarks/results/label_init.jsonl; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.config import ModelConfig, TrainConfig  # noqa: E402
from vaegan_core.training.data import load_dataset  # noqa: E402
from vaegan_core.metrics.conditional_scores import label_probe  # noqa: E402
from vaegan_core.metrics.evaluate import evaluate  # noqa: E402
from vaegan_core.training.train import Trainer  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "label_init.jsonl"


def run(kind: str, std: float, encoder_std: float, epochs: int, out: Path, extra: dict, limit: int = 0) -> dict:
    trainer = Trainer(ModelConfig(kind=kind, width=32, num_classes=10, **extra),
                      TrainConfig(dataset="mnist", epochs=epochs, seed=0, limit=limit), out, progress=False)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # before the first step: the optimizers hold no state yet
        decoder = trainer.model.decoder.label_project.weight
        decoder.copy_(torch.randn(decoder.shape, generator=generator) * std)
        if hasattr(trainer.model, "encoder"):
            encoder = trainer.model.encoder.label_head.weight
            encoder.copy_(torch.randn(encoder.shape, generator=generator) * encoder_std)
    start = time.perf_counter()
    trainer.fit()
    model = load_model(out)
    scores = evaluate(model, "mnist", n=5000, extractor="lenet", split="test", seed=0)["metrics"]
    row = {"kind": kind, "decoder_std": std, "encoder_std": encoder_std if kind != "gan" else None, "epochs": epochs,
           "label_adherence": scores["label_adherence"], "intra_fid": scores["intra_fid"], "fid": scores["fid"],
           "recall": scores["recall"], "seconds": round(time.perf_counter() - start)}
    if kind != "gan":
        test, labels = load_dataset("mnist", "test")
        with torch.no_grad():
            mu, _ = model.encode(test.float() / 255, labels)
        row["label_probe"] = label_probe(mu.numpy(), labels.numpy(), 0)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["vae", "gan", "vaegan"], default="vae")
    parser.add_argument("--stds", default="1.0,0.113,0.02", help="the decoder's label spreads to try, comma-separated")
    parser.add_argument("--encoder-std", type=float, default=None, help="the encoder's (default: the decoder's)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="runs/label-init")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (a smoke test)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    extra = {"ema_decay": 0.999} if args.kind == "gan" else ({"beta": 4.0} if args.kind == "vaegan" else {})
    rows = []
    for std in (float(text) for text in args.stds.split(",")):
        encoder_std = std if args.encoder_std is None else args.encoder_std
        row = run(args.kind, std, encoder_std, args.epochs, Path(args.out) / f"{args.kind}-{std:g}-{encoder_std:g}", extra,
                  args.limit)
        if not args.limit:  # a smoke test's rows are not results
            with RESULTS.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        rows.append(row)
    print("| kind | decoder std | encoder std | epochs | label adherence | per-class FID | FID | recall | label probe |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        probe = f"{row['label_probe']:.1%}" if "label_probe" in row else "-"
        print(f"| {row['kind']} | {row['decoder_std']:g} | {row['encoder_std'] if row['encoder_std'] is not None else '-'} | "
              f"{row['epochs']} | {row['label_adherence']:.1%} | {row['intra_fid']:.1f} | {row['fid']:.1f} | "
              f"{row['recall']:.2f} | {probe} |")


if __name__ == "__main__":
    main()
