"""Batches in flight: the next batch is pulled while the previous ones map and publish.

The subscriber's handler hands a batch over and returns (`MAPPER_PIPELINE`), so FastStream
pulls batch k+2 while batch k+1 is mapped and batch k published. Batches still publish one
after another in the order they were pulled, and at most `MAPPER_BATCHES_IN_FLIGHT` are held
unacked; `drain()` lets every batch in flight be published and settled (at stop).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from nats.aio.msg import Msg

from mlconnector.mapper.batch import BatchHandler
from mlconnector.mapper.stats import MapperStats


class BatchPipeline:
    def __init__(
        self,
        handler: BatchHandler,
        stats: MapperStats,
        *,
        pipelined: bool,
        batches_in_flight: int,
    ) -> None:
        self._handler = handler
        self._stats = stats
        self._pipelined = pipelined
        self._batches_in_flight = batches_in_flight
        self._last: asyncio.Task[None] | None = None  # the batch pulled last
        self._in_flight: deque[asyncio.Task[None]] = deque()
        self._stopping = False

    async def submit(self, msgs: list[Msg]) -> None:
        """Hand a batch on; return at once unless too many batches are in flight (or the
        pipeline is off or stopping: then once this batch is settled)."""
        self._stats.batches += 1
        if self._stats.first_batch_at is None:
            self._stats.first_batch_at = time.perf_counter()
        task = asyncio.create_task(self._handler.process(msgs, after=self._last))
        self._last = task
        self._in_flight.append(task)
        if not self._pipelined or self._stopping:
            # Shielded: a cancelled handler must not abandon a batch half published.
            await asyncio.shield(task)
        while self._in_flight and (
            self._in_flight[0].done() or len(self._in_flight) > self._batches_in_flight
        ):
            await asyncio.shield(self._in_flight.popleft())

    async def drain(self) -> None:
        """Wait until every batch in flight is settled; from now on batches go inline."""
        self._stopping = True
        while self._in_flight:
            await asyncio.shield(self._in_flight.popleft())
