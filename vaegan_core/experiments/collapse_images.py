"""Model collapse with images: train generation k on samples of generation k-1 and measure each one.

    vaegan collapse --model vaegan --dataset mnist --generations 10 --out runs/collapse-vaegan

Generation 0 trains on ``per_generation`` real training images, or (``start_from``) is a trained
checkpoint, measured as it is; every later generation then starts from the previous generation's
weights and is trained further on the new data (iterative retraining, as Bertrand et al. 2024 study
it): a loop that starts from a good model at a cost a CPU can pay. Generation k trains on
``per_generation`` images of which a share ``real_fraction`` is real (``fixed-real``: the same
real images every generation; ``fresh-real``: new ones each time; ``synthetic``: none) and the
rest are samples of generation k-1; with ``accumulate`` every earlier generation's data is kept
too (and trains for as many images as the others: one pass over a random subset of the growing pool
once it is larger than ``per_generation x epochs``, so the compute per generation stays equal). Each
generation is measured with the domain (LeNet) features against the real test split:
FID, precision / recall, the class histogram and its entropy, the share of samples the domain
classifier is confident about and the tail mass (``metrics.scores.tail_mass``); a grid from one fixed
noise batch is saved, and the first ``STRIP`` of those codes decoded at every generation go to
``strip.npy`` (generations x STRIP x C x H x W, uint8). ``results.json`` is rewritten after every
generation, so an interrupted study resumes from the last finished generation (its checkpoint is kept
in ``last/``).

A gap at generation 0 between models is *mode collapse* (one training run covers too little of
the data: low recall, missing classes); a slope across generations is *model collapse*
(Shumailov et al. 2024: each generation loses tails, then variance).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..storage.checkpoint import load_model, read_config
from ..config import COLLAPSE_LOOPS, MODEL_KINDS, ModelConfig, TrainConfig
from ..training.data import load_dataset
from ..errors import ConfigError, first_line
from ..storage.files import JSONFileError, read_bounded, read_json, save_npy_atomic, write_text_atomic
from ..images import save_grid, to_uint8
from ..metrics.scores import CONFIDENT
from ..metrics.evaluate import evaluate
from ..training.train import Trainer
from ..storage.zoo import WEIGHTS_FILE, fingerprint

RESULTS_FILE = "results.json"
STRIP_FILE = "strip.npy"
STRIP = 10  # fixed codes decoded at every generation (a row of the strip per generation)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ImageCollapseConfig:
    model: str = "vaegan"             # vae | gan | vaegan
    dataset: str = "mnist"            # mnist | fashion-mnist | digits
    generations: int = 5              # generations after generation 0
    per_generation: int = 5000        # training images per generation
    loop: str = "synthetic"           # synthetic | fixed-real | fresh-real
    real_fraction: float = 0.0        # share of real images in generations >= 1 (ignored by synthetic)
    accumulate: bool = False          # keep every earlier generation's training data too
    epochs: int = 8                   # epochs per generation (5,000 images x 8 = 625 steps: a GAN needs ~600 to draw digits)
    width: int = 32                   # network width (32 trains ~3x faster than the default 64 on a CPU; at 16 the VAE-GAN does not learn)
    latent_dim: int = 32
    batch_size: int = 64
    eval_n: int = 2000                # generated images measured per generation
    seed: int = 0
    device: str = "auto"
    start_from: str = ""              # a checkpoint folder: generation 0 is that model; later ones fine-tune

    def check(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ConfigError(f"unknown model {self.model!r}; choose vae, gan or vaegan")
        if self.loop not in COLLAPSE_LOOPS:
            raise ConfigError(f"unknown loop {self.loop!r}; choose one of {', '.join(COLLAPSE_LOOPS)}")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ConfigError(f"--real-fraction must be in [0, 1], got {self.real_fraction}")
        if self.loop != "synthetic" and self.real_fraction == 0.0:
            raise ConfigError(f"--loop {self.loop} mixes in real data: give --real-fraction > 0")
        if self.generations < 1 or self.per_generation < self.batch_size or self.epochs < 1:
            raise ConfigError("need --generations >= 1, --epochs >= 1 and --per-generation >= the batch size")
        if self.eval_n < 2:
            raise ConfigError("--eval-n must be at least 2")

    def with_start(self) -> "ImageCollapseConfig":
        """The config with the start checkpoint's width and latent size (the ones the study really has); its
        kind must be ``model``."""
        if not self.start_from:
            return self
        stored = read_config(self.start_from)
        model = stored.get("model", {})
        if model.get("kind") != self.model or model.get("num_classes", 0):
            raise ConfigError(f"--start-from {self.start_from} holds a {model.get('kind')} "
                              f"{'(conditional) ' if model.get('num_classes') else ''}model; the study is of an "
                              f"unconditional {self.model}: give --model {model.get('kind')} or another checkpoint")
        return replace(self, width=int(model["width"]), latent_dim=int(model["latent_dim"]))


def _entropy(histogram) -> float:
    counts = np.asarray(histogram, dtype=np.float64)
    p = counts[counts > 0] / counts.sum()
    return max(0.0, float(-(p * np.log(p)).sum()))  # one class: 0, not -0.0


def _generate(model, n: int, seed: int) -> torch.Tensor:
    """n samples of ``model`` as uint8 N x C x H x W (what the next generation trains on)."""
    images = model.sample(n, generator=torch.Generator().manual_seed(seed))
    return to_uint8(images)


def run(config: ImageCollapseConfig, out_dir, data_root=None, progress: Progress | None = None) -> dict:
    """Run (or resume) the study in ``out_dir``; returns the results dict that is also in results.json."""
    config.check()
    config = config.with_start()
    report = progress or (lambda fraction, message: None)
    out = Path(out_dir)
    results = _open_results(config, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "grids").mkdir(exist_ok=True)
    source = _TrainingData(config, data_root)
    fixed_noise = torch.randn(64, config.latent_dim, generator=torch.Generator().manual_seed(config.seed + 12345))
    total = config.generations + 1
    previous, accumulated = None, []
    done = len(results["generations"])
    if done and ((out / STRIP_FILE).exists() or (out / STRIP_FILE).is_symlink()):
        try:  # a corrupt strip is said now, not after the next generation has trained
            read_strip(out / STRIP_FILE)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if done:  # resume from the kept checkpoint of the last finished generation (and the data it saw)
        previous = load_model(out / "last", device="cpu")
        if config.accumulate:
            accumulated.append(torch.from_numpy(np.load(out / "accumulated.npy", allow_pickle=False)))
    start_time = time.perf_counter()
    for generation in range(done, total):
        report(generation / total, f"generation {generation}/{total - 1}: training")
        data = source.for_generation(generation, previous)
        if config.accumulate:
            accumulated.append(data)
            data = torch.cat(accumulated)
        folder = out / f"generation_{generation:02d}"
        model, summary = _train_generation(config, generation, data, folder, previous)

        report((generation + 0.8) / total, f"generation {generation}/{total - 1}: measuring")
        results["generations"].append({
            "generation": generation,
            "training_images": None if config.start_from and generation == 0 else int(len(data)),
            **({"start_from": config.start_from} if config.start_from and generation == 0 else {}),
            "real_images": int(config.per_generation if generation == 0 else source.real_count),
            **_measure_generation(config, model, data_root), "train_seconds": summary.get("train_seconds")})
        with torch.no_grad():
            decoded = model.decode(fixed_noise)
        save_grid(decoded, out / "grids" / f"generation_{generation:02d}.png", nrow=8)
        _append_strip(out, generation, to_uint8(decoded[:STRIP]).numpy())
        results["wall_seconds"] = results.get("wall_seconds", 0.0) + (time.perf_counter() - start_time)
        start_time = time.perf_counter()
        # keep only the newest checkpoint (for resuming): generations' weights are not what the study ships
        if (out / "last").exists():
            shutil.rmtree(out / "last")
        folder.rename(out / "last")
        if config.accumulate:
            accumulated = [data]  # already the concatenation of every generation so far
            save_npy_atomic(out / "accumulated.npy", data.numpy())
        write_text_atomic(out / RESULTS_FILE, json.dumps(results, indent=2) + "\n")
        previous = model
    report(1.0, "done")
    return results


def _append_strip(out: Path, generation: int, row: np.ndarray) -> None:
    """Row ``generation`` of strip.npy: the fixed codes decoded by this generation (rows after it dropped)."""
    path = out / STRIP_FILE
    try:
        rows = read_strip(path)[:generation] if path.is_file() else np.zeros((0,) + row.shape, np.uint8)
    except ValueError as error:
        if generation:  # rows of finished generations would be lost: said, not replaced
            raise ConfigError(str(error)) from None
        rows = np.zeros((0,) + row.shape, np.uint8)  # a new study: the damaged file is replaced
    if rows.shape[0] != generation or rows.shape[1:] != row.shape:  # an older study without a strip: none
        return
    save_npy_atomic(path, np.concatenate([rows, row[None]]))


STRIP_LIMIT = 64 * 2**20  # 100 generations of 10 colour 64x64 codes: 12 MB
RESULTS_LIMIT = 8 * 2**20  # a study of 100 generations is about 100 KB
MEASURES = ("fid", "precision", "recall")  # what every generation must hold, as finite numbers (fid > 0)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_results(path: str | Path) -> dict:
    """A study's results.json, checked: a JSON object with a ``config`` object and a ``generations`` list whose
    entries are objects numbered 0, 1, ... with a finite positive ``fid`` and finite precision and recall.
    Anything else is a ``JSONFileError`` (a ``ValueError``) naming the file and the fault in one line."""
    results = read_json(path, dict, limit=RESULTS_LIMIT)
    if not isinstance(results.get("config"), dict) or not isinstance(results.get("generations"), list):
        raise JSONFileError(f"{path} is not a study's results (no config object or generations list)")
    for index, entry in enumerate(results["generations"]):
        if not isinstance(entry, dict) or entry.get("generation") != index:
            raise JSONFileError(f"{path}: entry {index} of generations is not generation {index}")
        bad = [key for key in MEASURES if not _number(entry.get(key))]
        if bad or entry["fid"] <= 0:
            raise JSONFileError(f"{path}: generation {index} has no finite positive {', '.join(bad) or 'fid'}")
    return results


def read_strip(path: str | Path, rows: int | None = None) -> np.ndarray:
    """A study's strip.npy, checked: uint8, generations x STRIP x C x H x W (``rows`` rows when given), no pickle.
    A bad file is a ``ValueError`` naming it."""
    import io

    try:
        strip = np.load(io.BytesIO(read_bounded(path, STRIP_LIMIT)), allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # FileKindError is an OSError: a FIFO, a device, too large
        raise ValueError(f"{path} is not a readable strip ({first_line(error)}); remove it, and its study goes on "
                         "without one") from None
    if strip.dtype != np.uint8 or strip.ndim != 5 or strip.shape[1] != STRIP or (rows is not None and strip.shape[0] != rows):
        raise ValueError(f"{path} holds a {strip.dtype} array of shape {strip.shape}, not the study's strip "
                         f"(generations x {STRIP} x C x H x W, uint8); remove it")
    return strip


def start_fingerprint(checkpoint: str | Path) -> str:
    """The fingerprint of a start checkpoint's weights (model.safetensors alone, so a rewritten card or config
    does not count as another start): what a study's generation 0 was."""
    return fingerprint(checkpoint, names=(WEIGHTS_FILE,))


def _open_results(config: ImageCollapseConfig, out: Path) -> dict:
    """The results of the study in ``out`` so far (refused when made with other settings or from other
    start weights), or a new record."""
    results_path = out / RESULTS_FILE
    start = start_fingerprint(config.start_from) if config.start_from else None
    if not (results_path.exists() or results_path.is_symlink()):  # a FIFO or a link is read (and refused) below
        return {"config": asdict(config), "generations": [], "created_by": "vaegan collapse",
                **({"start_fingerprint": start} if start else {})}
    try:
        results = read_results(results_path)
    except ValueError as error:
        raise ConfigError(f"{error}; remove the folder to start the study again") from None
    stored = {key: value for key, value in results["config"].items() if key != "generations"}
    if stored != {key: value for key, value in asdict(config).items() if key != "generations"}:
        raise ConfigError(f"{out} holds a study with other settings; rerun it with the same settings "
                          "(--generations may grow) or choose another --out")
    if start and results["generations"] and results.get("start_fingerprint") != start:
        raise ConfigError(f"{out} holds a study whose generation 0 was other weights than {config.start_from} "
                          "holds now; remove the folder to start it again, or choose another --out")
    results["config"] = asdict(config)
    if start:
        results["start_fingerprint"] = start
    return results


class _TrainingData:
    """What each generation trains on: real images for generation 0; then the previous model's samples,
    with a share of real images for the fixed-real and fresh-real loops. The real training split is read
    only when it is needed: a study that starts from a checkpoint, on samples alone, needs none."""

    def __init__(self, config: ImageCollapseConfig, data_root=None):
        self.config, self.data_root = config, data_root
        self.real_count = 0 if config.loop == "synthetic" else int(round(config.real_fraction * config.per_generation))
        self._real = None
        if not config.start_from or self.real_count or config.accumulate:
            self._load()  # a missing dataset or a too large --per-generation is said before any work

    def _load(self) -> torch.Tensor:
        if self._real is None:
            config = self.config
            self._real, _ = load_dataset(config.dataset, "train", self.data_root)
            self.order = torch.randperm(self._real.shape[0], generator=torch.Generator().manual_seed(config.seed))
            if config.per_generation > self._real.shape[0]:
                raise ConfigError(f"--per-generation {config.per_generation} exceeds the {self._real.shape[0]} "
                                  f"{config.dataset} training images")
        return self._real

    def for_generation(self, generation: int, previous_model) -> torch.Tensor:
        config = self.config
        if generation == 0:
            if config.start_from and self._real is None:  # the start checkpoint was trained already
                return torch.zeros((0,), dtype=torch.uint8)
            return self._load()[self.order[: config.per_generation]]
        fake = _generate(previous_model, config.per_generation - self.real_count, config.seed + 1000 * generation)
        if not self.real_count:
            return fake
        real = self._load()
        total_real = real.shape[0]
        if config.loop == "fresh-real":  # new real images each generation, wrapping round the training set
            start = (config.per_generation + (generation - 1) * self.real_count) % total_real
            picked = self.order[(torch.arange(self.real_count) + start) % total_real]
        else:  # fixed-real: the same real images as generation 0 (a part of them)
            picked = self.order[: self.real_count]
        return torch.cat([real[picked], fake])


def _train_generation(config: ImageCollapseConfig, generation: int, data: torch.Tensor, folder: Path, previous=None):
    """Train one generation's model on ``data`` into ``folder``; returns (model in eval mode, fit summary).

    With ``start_from``, generation 0 is the start checkpoint (copied, not trained) and a later generation
    starts from ``previous``'s weights, its trained decoder replaced by the moving average it sampled with."""
    if folder.exists():
        shutil.rmtree(folder)  # a generation interrupted mid-training starts again
    if config.start_from and generation == 0:
        shutil.copytree(config.start_from, folder, ignore=shutil.ignore_patterns("samples", "trainer_state.pt"))
        return load_model(folder, device="cpu").eval(), {"train_seconds": 0.0}
    model_config = (replace(previous.config) if config.start_from and previous is not None
                    else ModelConfig(kind=config.model, latent_dim=config.latent_dim, width=config.width))
    epochs, data = _budget(config, data, generation)
    train_config = TrainConfig(dataset=config.dataset, epochs=epochs, batch_size=config.batch_size,
                               seed=config.seed + generation, device=config.device, sample_grid=16)
    trainer = Trainer(model_config, train_config, folder, data=(data, torch.zeros(len(data), dtype=torch.long)),
                      progress=False)
    if config.start_from and previous is not None:
        trainer.model.load_state_dict(previous.state_dict())
        if trainer.model.decoder_ema is not None:  # start from the weights generation k-1 drew its samples with
            trainer.model.decoder.load_state_dict(trainer.model.decoder_ema.state_dict())
    summary = trainer.fit()
    return trainer.model.eval(), summary


def _budget(config: ImageCollapseConfig, data: torch.Tensor, generation: int) -> tuple[int, torch.Tensor]:
    """(epochs, images) of one generation: ``per_generation x epochs`` images seen by every generation; an
    accumulated pool larger than that is subsampled at random for one pass."""
    seen = config.per_generation * config.epochs
    if not config.accumulate or len(data) <= config.per_generation:
        return config.epochs, data
    if len(data) >= seen:
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.seed + 7 * generation))
        return 1, data[pick[:seen]]
    return max(1, round(seen / len(data))), data


def _measure_generation(config: ImageCollapseConfig, model, data_root=None) -> dict:
    """Domain FID, precision / recall, the class histogram, the confident share and the tail mass of one
    generation's samples."""
    scores = evaluate(model, config.dataset, n=config.eval_n, extractor="lenet",
                      metrics=("fid", "pr", "modes", "tails"), seed=config.seed, data_root=data_root)["metrics"]
    return {"fid": scores["fid"], "precision": scores["precision"], "recall": scores["recall"],
            "histogram": scores["histogram"], "classes_covered": scores["classes_covered"],
            "class_entropy": _entropy(scores["histogram"]), "class_entropy_max": math.log(10),
            "confident_share": scores["confident_share"], "confident_threshold": CONFIDENT,
            "tail_mass": scores["tail_mass"], "tail_mass_real": scores["tail_mass_real"]}


def live_config(model: str, checkpoint: str, loop: str = "synthetic", generations: int = 3,
                seed: int = 0) -> ImageCollapseConfig:
    """The apps' live study: generation 0 is ``checkpoint`` (a trained MNIST model, so it is recognisable
    from the start), each later generation fine-tunes on 2,000 images for one epoch and is measured on 1,000
    samples. On samples alone it needs no training split (the test split ships with the checkpoints);
    ``fresh-real`` (20 %) and ``accumulate`` read the MNIST training split. Timed by
    ``benchmarks/collapse_speed.py --live``."""
    real = 0.2 if loop == "fresh-real" else 0.0
    return ImageCollapseConfig(model=model, dataset="mnist", generations=generations, per_generation=2000, epochs=1,
                               loop="fresh-real" if loop == "fresh-real" else "synthetic", real_fraction=real,
                               accumulate=loop == "accumulate", eval_n=1000, seed=seed, start_from=checkpoint)
