"""Training speed: images/s of one optimizer step per model, ours against a plain fp32 loop and a peer library.

    python benchmarks/train_speed.py [--device auto] [--batch-size 64] [--steps 10] [--rounds 3] [--width 64]
    python benchmarks/train_speed.py --nproc 2 [--device cpu] [--images 6400]   # scaling over processes
    python benchmarks/train_speed.py --shared [--models vaegan]   # threads on an idle and on a shared CPU
    python benchmarks/train_speed.py --variants auto,compile   # torch.compile'd networks against the default step
    pip install pythae   # optional: adds its VAE-GAN step (its model and trainer code, our networks) as a row

"ours" is ``Trainer.train_step`` as `vaegan train` runs it (one decoder pass over the
reconstruction and prior codes, the discriminator over real images and over generated ones,
per-network backward with ``inputs=``, the configured precision and memory layout); "ours, one D
pass" is the same step with a single discriminator pass over real | reconstructed | sampled images.
"plain" is the same networks trained the way public reimplementations usually write the
step: fp32, contiguous tensors, separate discriminator passes for each kind of image, the
discriminator updated first and re-run for the generator side, ``retain_graph`` backward
passes. "pythae" is the VAE-GAN of the pythae library (``pythae.models.VAEGAN`` and its
``CoupledOptimizerAdversarialTrainer``'s optimizer step) with our three networks plugged in
through its custom-network API, so the networks are the same and the work per image differs only
by its algorithm (it scores the real images twice, the reconstructions once and skips their GAN
term). Each row's floating-point work per image is counted once (``torch.utils.flop_counter``), so
the table gives GFLOP/s and the share of the matrix-multiply rate of the same threads in the
row's precision (fp32 or bf16), measured in the same rounds. All rows run in one process on the same random batches; the epoch
column is the 60,000-image MNIST training split at that rate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from vaegan_core.config import ModelConfig, TrainConfig
from vaegan_core.models import build_model
from vaegan_core.training.train import Trainer, cpu_has_fast_bf16, resolve_device

MNIST_TRAIN_IMAGES = 60_000


def plain_vaegan_step(model, optimizers, images, gamma):
    """The usual hand-written Larsen et al. step: three D passes, D first, then encoder and decoder."""
    encoder, decoder, discriminator = model.encoder, model.decoder, model.discriminator
    mu, logvar = encoder(images)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    recon = torch.sigmoid(decoder(z))
    prior = torch.sigmoid(decoder(torch.randn_like(mu)))
    # discriminator on detached fakes
    real_logits, _ = discriminator(images)
    recon_logits, _ = discriminator(recon.detach())
    prior_logits, _ = discriminator(prior.detach())
    loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
              + F.binary_cross_entropy_with_logits(recon_logits, torch.zeros_like(recon_logits))
              + F.binary_cross_entropy_with_logits(prior_logits, torch.zeros_like(prior_logits)))
    optimizers["discriminator"].zero_grad()
    loss_d.backward()
    optimizers["discriminator"].step()
    # encoder and decoder against the updated discriminator
    _, real_features = discriminator(images)
    recon_logits, recon_features = discriminator(recon)
    prior_logits, _ = discriminator(prior)
    feature_nll = 0.5 * (recon_features - real_features.detach()).pow(2).flatten(1).sum(1).mean()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    gan = (F.binary_cross_entropy_with_logits(recon_logits, torch.ones_like(recon_logits))
           + F.binary_cross_entropy_with_logits(prior_logits, torch.ones_like(prior_logits)))
    optimizers["encoder"].zero_grad()
    optimizers["decoder"].zero_grad()
    (kl + feature_nll).backward(retain_graph=True, inputs=list(encoder.parameters()))
    (gamma * feature_nll + gan).backward(inputs=list(decoder.parameters()))
    optimizers["encoder"].step()
    optimizers["decoder"].step()


def plain_gan_step(model, optimizers, images):
    decoder, discriminator = model.decoder, model.discriminator
    z = torch.randn(images.shape[0], model.config.latent_dim, device=images.device)
    fakes = torch.sigmoid(decoder(z))
    real_logits, _ = discriminator(images)
    fake_logits, _ = discriminator(fakes.detach())
    loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
              + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    optimizers["discriminator"].zero_grad()
    loss_d.backward()
    optimizers["discriminator"].step()
    fake_logits, _ = discriminator(fakes)
    loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    optimizers["decoder"].zero_grad()
    loss_g.backward(inputs=list(decoder.parameters()))
    optimizers["decoder"].step()


def plain_vae_step(model, optimizers, images):
    mu, logvar = model.encoder(images)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = model.decoder(z)
    nll = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / images.shape[0]
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    optimizers["vae"].zero_grad()
    (nll + kl).backward()
    optimizers["vae"].step()


def pythae_step(model, batch_size: int):
    """The pythae VAE-GAN's training step (its forward and its trainer's optimizer step) on our networks of
    ``model``, or None when pythae is not installed."""
    try:
        import tempfile

        from pythae.data.datasets import BaseDataset
        from pythae.models import VAEGAN, VAEGANConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseDiscriminator, BaseEncoder
        from pythae.trainers import CoupledOptimizerAdversarialTrainer, CoupledOptimizerAdversarialTrainerConfig
    except ImportError:
        return None

    class Encoder(BaseEncoder):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            mu, logvar = self.net(x)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    class Discriminator(BaseDiscriminator):  # pythae reads probabilities and the features of a layer "level"
        def __init__(self, net):
            super().__init__()
            self.net, self.depth = net, 1

        def forward(self, x, output_layer_levels=None):
            logits, features = self.net(x)
            output = ModelOutput(embedding=torch.sigmoid(logits).reshape(-1, 1))
            for level in output_layer_levels or []:
                output[f"embedding_layer_{level}"] = features
            return output

    config = VAEGANConfig(input_dim=(1, 28, 28), latent_dim=model.config.latent_dim, reconstruction_layer=1)
    peer = VAEGAN(config, encoder=Encoder(model.encoder), decoder=Decoder(model.decoder),
                  discriminator=Discriminator(model.discriminator))
    data = torch.rand(2 * batch_size, 1, 28, 28)
    trainer = CoupledOptimizerAdversarialTrainer(
        model=peer, train_dataset=BaseDataset(data, torch.zeros(data.shape[0])),
        training_config=CoupledOptimizerAdversarialTrainerConfig(output_dir=tempfile.mkdtemp(),
                                                                 no_cuda=model.device.type != "cuda",
                                                                 per_device_train_batch_size=batch_size))
    trainer.prepare_training()
    peer.train()

    def step(images):
        trainer._optimizers_step(peer({"data": images}, epoch=0, dataset_size=images.shape[0]))

    return step


def flops_per_image(step, images) -> float:
    """Floating-point operations of one ``step`` on ``images`` (forward and backward), per image."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(images)
    return counter.get_total_flops() / images.shape[0]


def matmul_rate(device: torch.device, precision: str = "fp32", size: int = 1024, repeats: int = 8) -> float:
    """FLOP/s of a square matrix product in ``precision`` (fp32 or bf16) on ``device`` with this process's threads."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.rand(size, size, device=device, dtype=dtype), torch.rand(size, size, device=device, dtype=dtype)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(step, batches, device, warmup=3) -> float:
    """Images per second of ``step`` over ``batches`` (after ``warmup`` untimed steps)."""
    for images in batches[:warmup]:
        step(images)
    _sync(device)
    start = time.perf_counter()
    for images in batches[warmup:]:
        step(images)
    _sync(device)
    return sum(b.shape[0] for b in batches[warmup:]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows the median")
    parser.add_argument("--width", type=int, default=ModelConfig.width)
    parser.add_argument("--models", default="vae,gan,vaegan")
    parser.add_argument("--variants", default="auto,fp32-nchw,fp32-nhwc,bf16-nhwc",
                        help="our Trainer settings to time: auto (the defaults), compile (the defaults with "
                             "torch.compile; its compile time is printed apart) or PRECISION-LAYOUT")
    parser.add_argument("--nproc", type=int, default=1,
                        help="> 1: time `vaegan train` on 1 and on N processes (torchrun) instead")
    parser.add_argument("--images", type=int, default=6400, help="with --nproc: MNIST images per timed epoch")
    parser.add_argument("--shared", action="store_true",
                        help="time our step on 1 and on all threads, on the idle CPU and beside one busy process "
                             "(the premise of `vaegan train --threads auto`) instead")
    args = parser.parse_args()
    if args.nproc > 1:
        return scaling(args)
    if args.shared:
        return shared(args)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    count = args.steps + 3
    images = torch.rand(count * args.batch_size, 1, 28, 28)
    uint8 = (images * 255).to(torch.uint8)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; bf16 hardware on this CPU: {cpu_has_fast_bf16()}; "
          f"batch {args.batch_size}; width {args.width}; median of {args.rounds} interleaved rounds "
          f"of {args.steps} timed steps\n")
    print("| model | step | precision | layout | images/s | MNIST epoch (s) | vs plain | MFLOP / image | GFLOP/s "
          "| of the matmul rate |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    matmul = {"fp32": [], "bf16": []}
    compile_notes = []
    for kind in args.models.split(","):
        model_config = ModelConfig(kind=kind, width=args.width)
        rows = []  # (label, precision, layout, step function, batches)
        # plain fp32 loop, same networks, same initialisation
        trainer = Trainer(model_config, TrainConfig(dataset="digits", batch_size=args.batch_size, device=args.device,
                                                    precision="fp32", channels_last=False),
                          "/nonexistent-benchmark", data=(uint8, None), progress=False)
        plain = {"vae": plain_vae_step, "gan": plain_gan_step, "vaegan": plain_vaegan_step}[kind]
        extra = (model_config.gamma,) if kind == "vaegan" else ()
        rows.append(("plain", "fp32", "NCHW",
                     lambda x, t=trainer: plain(t.model, t.optimizers, x, *extra),
                     [b.to(device) for b in images.split(args.batch_size)]))
        compile_seconds = None
        for variant in args.variants.split(","):
            if variant in ("auto", "compile"):
                train_config = TrainConfig(dataset="digits", batch_size=args.batch_size, device=args.device)
            else:
                precision, layout = variant.split("-")
                train_config = TrainConfig(dataset="digits", batch_size=args.batch_size, device=args.device,
                                           precision=precision, channels_last=layout == "nhwc")
            trainer = Trainer(model_config, train_config, "/nonexistent-benchmark", data=(uint8, None), progress=False,
                              compile=variant == "compile")
            order = torch.arange(uint8.shape[0], device=device)
            batches = [trainer._batch(order, i) for i in range(count)]
            if variant == "compile":  # the first step compiles: timed apart, the rows time the compiled step
                trainer._first_compiled_step(batches[0], None)
                _sync(device)
                compile_seconds = trainer.compile_seconds
            labels = {"auto": "ours (default)", "compile": "ours (default), torch.compile"}
            rows.append((labels.get(variant, "ours"), trainer.precision,
                         "NHWC" if trainer._channels_last else "NCHW", trainer.train_step, batches))
            if kind == "vaegan" and variant == "auto":
                fused = Trainer(model_config, train_config, "/nonexistent-benchmark", data=(uint8, None), progress=False)
                fused.model.fused_discriminator = True
                rows.append(("ours, one D pass", fused.precision, "NHWC" if fused._channels_last else "NCHW",
                             fused.train_step, batches))
        if kind == "vaegan" and device.type in ("cpu", "cuda"):  # pythae's trainer knows no other device
            peer = pythae_step(build_model(model_config).to(device), args.batch_size)
            if peer is None:
                print("(pythae is not installed: `pip install pythae` adds its row)")
            else:
                rows.append(("pythae (its step, our networks)", "fp32", "NCHW", peer, rows[0][4]))
        # a compiled step does the work of the step it compiles (the FLOP counter does not see into compiled code)
        uncompiled = next((row for row in rows if row[0] == "ours (default)"), None)
        flops = [flops_per_image((uncompiled if "compile" in row[0] else row)[3], row[4][0]) for row in rows]
        rates = [[] for _ in rows]
        for _ in range(args.rounds):
            for precision in {row[1] for row in rows}:
                matmul[precision].append(matmul_rate(device, precision))
            for index, (_, _, _, step, batches) in enumerate(rows):
                rates[index].append(measure(step, batches, device))
        medians = [statistics.median(r) for r in rates]
        for (label, precision, layout, _, _), rate, work in zip(rows, medians, flops):
            print(f"| {kind} | {label} | {precision} | {layout} | {rate:.0f} | "
                  f"{MNIST_TRAIN_IMAGES / rate:.1f} | {rate / medians[0]:.2f}x | {work / 1e6:.0f} | "
                  f"{rate * work / 1e9:.0f} | {rate * work / statistics.median(matmul[precision]):.0%} |")
        if compile_seconds is not None:
            compiled = next(rate for (label, *_), rate in zip(rows, medians) if "compile" in label)
            default = next((rate for (label, *_), rate in zip(rows, medians) if label == "ours (default)"), None)
            note = ""
            if default and compiled > default:  # seconds saved per image against the compile time
                saved = 1 / default - 1 / compiled
                note = f"; it pays for itself after {compile_seconds / saved / MNIST_TRAIN_IMAGES:.2f} MNIST epochs"
            compile_notes.append(f"{kind}: torch.compile took {compile_seconds:.0f} s (its first step){note}")
    for note in compile_notes:
        print(f"\n{note}")
    print("\nmatrix-multiply rate of these threads (1024 x 1024, median of the rounds): "
          + ", ".join(f"{precision} {statistics.median(values) / 1e9:.0f} GFLOP/s"
                      for precision, values in matmul.items() if values))


BUSY = "import torch\ntorch.set_num_threads(1)\na = torch.rand(1024, 1024)\nwhile True:\n    a @ a\n"


def shared(args) -> None:
    """Our default step on one thread and on every core, with the CPU idle and with one other busy process (a
    matrix-multiply loop on one thread, as another training run would be), in interleaved rounds."""
    import os
    import subprocess
    import sys

    cores = len(os.sched_getaffinity(0))
    print(f"our default step, batch {args.batch_size}, width {args.width}; {cores} cores; median of {args.rounds} "
          f"interleaved rounds of {args.steps} timed steps\n")
    print("| model | machine | threads | images/s | vs all threads |")
    print("|---|---|---:|---:|---:|")
    device = torch.device("cpu")
    uint8 = (torch.rand((args.steps + 3) * args.batch_size, 1, 28, 28) * 255).to(torch.uint8)
    for kind in args.models.split(","):
        trainer = Trainer(ModelConfig(kind=kind, width=args.width),
                          TrainConfig(dataset="digits", batch_size=args.batch_size, device="cpu"),
                          "/nonexistent-benchmark", data=(uint8, None), progress=False)
        order = torch.arange(uint8.shape[0])
        batches = [trainer._batch(order, i) for i in range(args.steps + 3)]
        for machine in ("idle", "one other busy process"):
            busy = subprocess.Popen([sys.executable, "-c", BUSY]) if machine != "idle" else None
            time.sleep(5 if busy else 0)  # its import of torch done: the load is there before the first round
            try:
                rates = {cores: [], 1: []}
                for _ in range(args.rounds):
                    for threads in rates:
                        torch.set_num_threads(threads)
                        rates[threads].append(measure(trainer.train_step, batches, device))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            every = statistics.median(rates[cores])
            for threads, values in rates.items():
                rate = statistics.median(values)
                print(f"| {kind} | {machine} | {threads} | {rate:.0f} | {rate / every:.2f}x |")
    torch.set_num_threads(cores)


def scaling(args) -> None:
    """`vaegan train` for one epoch of ``--images`` MNIST images on 1 and on N processes (--batch-size per process,
    one intra-op thread per process), interleaved over the rounds; images/s in total and per process."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    print(f"`vaegan train` on MNIST ({args.images:,} images, one epoch, --batch-size {args.batch_size} per process, "
          f"width {args.width}, device {args.device}, one thread per process); median of {args.rounds} rounds\n")
    print("| model | processes | global batch | images/s (total) | images/s per process | vs 1 process |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in args.models.split(","):
        rates: dict[int, list[float]] = {1: [], args.nproc: []}
        for _ in range(args.rounds):
            for nproc in rates:
                with tempfile.TemporaryDirectory() as folder:
                    command = [sys.executable, "-m", "vaegan_core.cli", "train", "--model", kind, "--dataset", "mnist",
                               "--epochs", "1", "--limit", str(args.images), "--batch-size", str(args.batch_size),
                               "--width", str(args.width), "--device", args.device, "--no-progress",
                               "--out", os.path.join(folder, "run"), "--nproc", str(nproc)]
                    subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
                    with open(os.path.join(folder, "run", "config.json"), encoding="utf-8") as handle:
                        state = json.load(handle)["state"]
                    seen = args.images // (args.batch_size * nproc) * args.batch_size * nproc  # whole global batches
                    rates[nproc].append(seen / state["train_seconds"])
        one = statistics.median(rates[1])
        for nproc, values in rates.items():
            rate = statistics.median(values)
            print(f"| {kind} | {nproc} | {args.batch_size * nproc} | {rate:.0f} | {rate / nproc:.0f} | {rate / one:.2f}x |")


if __name__ == "__main__":
    main()
