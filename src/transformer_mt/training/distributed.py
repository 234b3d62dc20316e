"""Multi-process data parallelism with ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc-per-node 2 -m transformer_mt train CONFIG`` starts one process per worker;
each reads its rank from the environment torchrun sets. Every process builds the same batch order
(same seed) and takes its share of each update's batches; DistributedDataParallel averages the
gradients (gloo on CPU, NCCL on GPU). Rank 0 validates, logs and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Workers:
    """This process's place among the workers (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, batch_index: int) -> bool:
        """Batches of an update are dealt round-robin: batch i goes to worker i mod world size."""
        return batch_index % self.world_size == self.rank

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all workers."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device())
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """``tensor`` (same shape on every worker) from all workers, in rank order."""
        if not self.distributed:
            return [tensor]
        device = _collective_device()
        parts = [torch.empty_like(tensor, device=device) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.to(device))
        return [part.cpu() for part in parts]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def _collective_device() -> torch.device:
    backend = dist.get_backend()
    return (
        torch.device("cuda", torch.cuda.current_device())
        if backend == "nccl"
        else torch.device("cpu")
    )


def start_workers(device: torch.device) -> Workers:
    """Join the process group when launched by torchrun; otherwise a single worker."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Workers()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
    return Workers(rank=rank, world_size=world_size, local_rank=local_rank)


def stop_workers(workers: Workers) -> None:
    if workers.distributed and dist.is_initialized():
        dist.destroy_process_group()
