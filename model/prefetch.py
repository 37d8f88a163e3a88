"""Work done ahead in background threads, handed over in order: the input pipeline of the GPU stage.

Why threads: tokenization (the Rust tokenizer releases the GIL while it encodes), reading Parquet
row groups and pinning host memory all run outside the GIL, so a thread keeps the next batches
ready while the main thread drives the GPU. Results come back in the order of the items whatever
the number of workers, and an exception raised by the work is raised again where the result is
taken, so a failing input fails the run as it would without prefetching.
"""

from __future__ import annotations

import collections
import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Iterable, Iterator, TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


def prefetched(items: Iterable[Item], work: Callable[[Item], Result], workers: int = 1,
               depth: int = 2) -> Iterator[Result]:
    """work(item) for every item, in order, computed up to `depth` items ahead by `workers` threads.

    workers=0 computes each result when it is asked for (no thread). With workers=1 the calls run
    one after the other in item order, so `work` may advance a shared reader (model.train's batcher).
    Closing the iterator early cancels what has not started and waits for what has.
    """
    if workers <= 0:
        yield from map(work, items)
        return
    iterator = iter(items)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch")
    pending: Deque[Future] = collections.deque()
    try:
        for item in itertools.islice(iterator, max(depth, workers, 1)):
            pending.append(pool.submit(work, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(iterator, 1):
                pending.append(pool.submit(work, item))
            yield result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


def pin_if_cuda(batch: dict, device: torch.device) -> dict:
    """Page-locked host copies of a batch's tensors for a CUDA device, so the copy to the GPU can be
    asynchronous (non_blocking=True); other devices get the batch as it is."""
    if device.type != "cuda":
        return batch
    return {key: value.pin_memory() if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def to_device(batch: dict, device: torch.device) -> dict:
    """A batch's tensors on `device`; from pinned memory the copy does not block the host."""
    return {key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()}
