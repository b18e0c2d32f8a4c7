"""The hardware a run trains on and how: the device (``resolve_device``), the precision (``resolve_precision``,
with ``cpu_has_fast_bf16``), the CPU threads (``cpu_threads``) and torch.compile of the networks
(``compile_networks``). ``vaegan_core.training.train`` re-exports them, and the Trainer looks them up there."""

from __future__ import annotations

import os

import torch

from ..errors import ConfigError
from ..models import GenerativeModel


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> cuda, then mps, then cpu; an explicit device that is absent is an error."""
    mps_available = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is visible; use --device auto or cpu")
    if name == "mps" and not mps_available:
        raise ConfigError("--device mps was asked for but Apple's MPS backend is not available; use --device auto or cpu")
    return torch.device(name)


def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 matrices in hardware (AMX or AVX512-BF16); else bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """auto -> bf16 on a CUDA GPU that supports it and on CPUs with bf16 hardware, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"


def cpu_threads(requested: str | int = "auto", ours: int = 0) -> int | None:
    """Intra-op threads for training on the CPU: ``requested`` as a number, or for "auto" the cores not busy with
    other work: the cores less the 1-minute load average that is not ours (``ours``: the threads this run has kept
    busy over the last minute; 0 before it starts), at least one. With other work on the machine, torch's threads
    spin-wait on each other and one thread runs faster than two (benchmarks/train_speed.py --shared). None (leave
    torch's setting alone) where OMP_NUM_THREADS is set: the user's choice stands."""
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested != "auto":
        return max(1, min(int(requested), cores))
    try:
        others = max(0.0, os.getloadavg()[0] - ours)
    except OSError:  # no load average on this system: torch's default
        return None
    return max(1, min(cores, round(cores - others)))


def compile_networks(model: GenerativeModel, wrapped: dict) -> dict:
    """``torch.compile`` of each network (its DDP wrapper in a run on several processes) for the training step;
    the plain networks stay the model's for sampling, the moving average and saving (``distributed.use_wrapped``
    swaps them in for the step). The parameters are shared, so the optimizers need no change."""
    import torch._functorch.config as functorch_config

    # the losses back-propagate through shared parts of one graph (train.backward_per_group retains it), which the
    # compiled backward's donated buffers forbid
    functorch_config.donated_buffer = False
    compiled = {}
    for name in ("encoder", "decoder", "discriminator"):
        network = wrapped.get(name, getattr(model, name, None))
        if network is not None:
            compiled[name] = torch.compile(network)
    return compiled
