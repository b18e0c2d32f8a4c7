"""Training on several processes with torch.distributed: ``torchrun --nproc_per_node N -m vaegan_core.cli train ...``
(or ``vaegan train --nproc N``, which starts torchrun).

What changes with N processes (``vaegan_core.training.train.Trainer`` does it when torchrun's environment is set):

- ``--batch-size`` is per process: the global batch is batch size x N, and an epoch has N-times fewer steps.
  Each step's global batch is the next batch size x N rows of the epoch's permutation (the same on every
  process); process r takes rows r x batch size onward. The noise is drawn for the global batch from one
  generator state and sharded the same way (``GenerativeModel.training_noise``).
- Each network (encoder, decoder, discriminator) is wrapped in its own ``DistributedDataParallel`` for the step's
  one forward pass. The losses are back-propagated per network (``backward(inputs=...)``), so each wrapper's
  gradients are all-reduced exactly once per step and the discriminator's gradients are never all-reduced in the
  encoder's or decoder's backward pass. DDP broadcasts the buffers (batch-norm statistics, spectral-norm vectors)
  of process 0 before each forward: one discriminator pass over real and fake images keeps them consistent.
- Batch norm normalises over each process's share of the batch; on GPUs it is converted to SyncBatchNorm, which
  normalises over the global batch (PyTorch's SyncBatchNorm does not run on CPUs).
- Process 0 alone writes the checkpoint, history, samples and quality lines; the log lines average every
  process's numbers. A NaN on any process stops all of them.
- CPUs use the gloo backend, GPUs nccl (one GPU per process, ``LOCAL_RANK``). Multi-node runs go through
  torchrun's rendezvous (see README, "Many GPUs").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch

from ..errors import ConfigError, first_line


LAUNCHED_ENV = "VAEGAN_LAUNCHED_BY_NPROC"
JOIN_TIMEOUT_ENV = "VAEGAN_JOIN_TIMEOUT"  # seconds the processes of a launch without torchrun wait for each other
LEFTOVER = ("unset WORLD_SIZE, RANK and LOCAL_RANK if they are left over from an earlier torchrun, or start the "
            "processes with torchrun (vaegan train --nproc N)")


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def from_environment() -> Context:
    """The process's place in a torchrun job (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), or one process."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK {rank} does not fit WORLD_SIZE {world}")
    return Context(rank, world, local_rank)


def start(context: Context, device: torch.device) -> None:
    """Join the process group (gloo on CPUs, nccl on GPUs) unless already in one."""
    import torch.distributed as dist

    if not context.active or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if os.environ.get("TORCHELASTIC_RUN_ID"):  # torchrun: its agent holds the rendezvous and watches the processes
        dist.init_process_group(backend)
        return
    # Not started by torchrun: WORLD_SIZE may be a leftover in the shell, so a missing address is said at once and
    # a rendezvous the other processes never join ends after a timeout, instead of a traceback or a silent hang.
    address, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT", "29500")
    if not address:
        raise ConfigError(f"WORLD_SIZE={context.world} asks for {context.world} processes, but MASTER_ADDR is not set; "
                          + LEFTOVER)
    try:
        seconds, port_number = float(os.environ.get(JOIN_TIMEOUT_ENV, "60")), int(port)
    except ValueError:
        seconds = port_number = -1
    if not (0 < port_number < 65536 and 0 < seconds <= 86400):
        raise ConfigError(f"MASTER_PORT must be a port (1-65535) and {JOIN_TIMEOUT_ENV} a number of seconds (up to "
                          f"86400); got {port!r} and {os.environ.get(JOIN_TIMEOUT_ENV, '60')!r}")
    try:
        store = dist.TCPStore(address, port_number, context.world, is_master=context.rank == 0,
                              timeout=timedelta(seconds=seconds), wait_for_workers=True)
    except RuntimeError as error:  # DistStoreError, DistNetworkError: a timeout or an address that does not answer
        raise ConfigError(f"the {context.world} processes of WORLD_SIZE={context.world} did not meet at "
                          f"{address}:{port} ({first_line(error)[:120]}); " + LEFTOVER) from None
    dist.init_process_group(backend, store=store, rank=context.rank, world_size=context.world)


def stop(context: Context) -> None:
    import torch.distributed as dist

    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.active:
        import torch.distributed as dist

        dist.barrier()


def any_true(context: Context, flag: torch.Tensor) -> torch.Tensor:
    """1.0 when ``flag`` (a 0-d float tensor) is non-zero on any process."""
    if not context.active:
        return flag
    import torch.distributed as dist

    flag = flag.detach().clone()
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag


def mean_over_processes(context: Context, values: torch.Tensor) -> torch.Tensor:
    if not context.active:
        return values
    import torch.distributed as dist

    values = values.detach().clone()
    dist.all_reduce(values)
    return values / context.world


class Shard:
    """A model's share of a global batch on one of ``world`` processes (``model.shard``): every process draws the
    noise of the whole global batch from the same generator state and keeps its own rows, so a run on N processes
    sees the noise a one-process run with the N-times batch sees; ``mean`` averages a scalar over the processes."""

    def __init__(self, rank: int, world: int):
        self.rank, self.world = rank, world

    def noise(self, shape, generator=None, device=None, dtype=None) -> torch.Tensor:
        full = torch.randn((shape[0] * self.world, *shape[1:]), generator=generator, device=device, dtype=dtype)
        return full[self.rank * shape[0]:(self.rank + 1) * shape[0]]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a per-process scalar over the processes (no gradient)."""
        import torch.distributed as dist

        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.world


def wrap_networks(model, context: Context, device: torch.device) -> dict:
    """One DistributedDataParallel per network of ``model`` (converted to SyncBatchNorm on GPUs)."""
    from torch.nn.parallel import DistributedDataParallel

    wrapped = {}
    for name in ("encoder", "decoder", "discriminator"):
        network = getattr(model, name, None)
        if network is None:
            continue
        if device.type == "cuda":
            network = torch.nn.SyncBatchNorm.convert_sync_batchnorm(network)
            model._modules[name] = network
        # process 0's buffers before each forward: the default; the keyword was renamed in torch 2.11
        wrapped[name] = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
    return wrapped


class use_wrapped:
    """Within the block, ``model.encoder`` etc. are the DDP wrappers (the training forward pass); outside it, the
    plain networks (sampling, the moving average, saving: state-dict keys without ``module.``)."""

    def __init__(self, model, wrapped: dict):
        self.model, self.wrapped = model, wrapped
        self.plain = {name: model._modules[name] for name in wrapped}

    def __enter__(self):
        self.model._modules.update(self.wrapped)

    def __exit__(self, *exc):
        self.model._modules.update(self.plain)
        return False


def launch(nproc: int, argv: list[str]) -> int:
    """``vaegan train --nproc N ...``: run ``torchrun --standalone --nproc_per_node N -m vaegan_core.cli train ...``."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "vaegan_core.cli", *argv]
    import os

    env = {**os.environ, LAUNCHED_ENV: "1"}  # the processes leave the summary to the launcher
    return subprocess.run(command, check=False, env=env).returncode
