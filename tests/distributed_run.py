"""A torchrun target for tests/test_distributed.py: trains a tiny model on `digits` with the Trainer.

    python -m torch.distributed.run --standalone --nproc_per_node N tests/distributed_run.py OUT KIND BATCH EPOCHS
        [--decoder-norm none] [--nan-on-rank R --nan-at-step S]
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import tiny_model_config, tiny_train_config  # noqa: E402

from vaegan_core.errors import VaeganError  # noqa: E402
from vaegan_core.training.train import Trainer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("kind")
    parser.add_argument("batch", type=int)
    parser.add_argument("epochs", type=int)
    parser.add_argument("--decoder-norm", default="batch")
    parser.add_argument("--nan-on-rank", type=int, default=-1)
    parser.add_argument("--nan-at-step", type=int, default=-1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trainer = Trainer(tiny_model_config(args.kind, decoder_norm=args.decoder_norm),
                      tiny_train_config(epochs=args.epochs, batch_size=args.batch, limit=128), args.out,
                      progress=False)
    if trainer.context.rank == args.nan_on_rank:
        losses_of = trainer.model.training_losses

        def poisoned(images, generator=None, labels=None):
            losses, logs = losses_of(images, generator, labels=labels)
            if trainer.step == args.nan_at_step:
                losses = {name: loss * float("nan") for name, loss in losses.items()}
            return losses, logs

        trainer.model.training_losses = poisoned
    try:
        trainer.fit()
    except VaeganError as error:
        print(f"process {trainer.context.rank}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
