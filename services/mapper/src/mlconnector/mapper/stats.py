"""The mapper's counters since start, for operators and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MapperStats:
    """Messages settled each way, and when the work started and last settled
    (`time.perf_counter()` values: the benchmark's events/s are measured between them)."""

    batches: int = 0
    acked: int = 0
    naked: int = 0
    terminated: int = 0
    first_batch_at: float | None = None
    last_settled_at: float | None = None
