"""Two CPU processes train under DistributedDataParallel (gloo on 127.0.0.1), as under torchrun."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

import numpy as np
import torch
import torch.multiprocessing as mp

from myostream.model import create_model
from myostream.train.distributed import is_distributed, world_size
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3
from tests.model.helpers import CLASS_IDS, prototypes, separable_task, tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    # the variables torchrun sets for each process
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        GLOO_SOCKET_IFNAME="lo",
    )
    torch.set_num_threads(1)
    torch.manual_seed(100 + rank)  # different initial weights: DDP must broadcast rank 0's
    model = create_model(tiny_config(dropout=0.1), prototypes(), CLASS_IDS)
    initial = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    x, y = separable_task(96)
    h2 = train_stage2(
        model, x, y, config=replace(model.config.stage2, epochs=2, batch_size=16), device="cpu", progress=False
    )
    h3 = train_stage3(model, x, y, device="cpu", progress=False)
    assert is_distributed() and world_size() == 2
    params = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    buffers = torch.cat([b.detach().flatten() for b in model.buffers()]).numpy()
    np.savez(
        os.path.join(out, f"rank{rank}.npz"),
        initial=initial,
        params=params,
        buffers=buffers,
        loss=np.array([r["loss"] for r in h2 + h3]),
    )
    torch.distributed.destroy_process_group()


def test_ddp_replicas_stay_identical(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    assert not np.array_equal(r0["initial"], r1["initial"])
    assert np.array_equal(r0["params"], r1["params"]) and np.array_equal(r0["buffers"], r1["buffers"])
    assert not np.array_equal(r0["params"], r0["initial"])
    # epoch losses are averaged over both shards, so both processes log the same numbers
    assert np.array_equal(r0["loss"], r1["loss"]) and len(r0["loss"]) == 2 + 5
