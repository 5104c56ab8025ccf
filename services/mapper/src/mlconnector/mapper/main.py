"""`mlconnector-mapper`: run the mapper until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from mlconnector.common.logs import setup_logging
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings

log = logging.getLogger("mlconnector.mapper")


async def serve(settings: MapperSettings, stop: asyncio.Event) -> None:
    # The broker's own loop, not a FastStream app: the signal handling stays ours, and the
    # streams are declared (declare_all) before the subscriber binds its durable consumer.
    await MapperService(settings).run(stop)


async def _main(settings: MapperSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
    log.info("mapper stopped")


def main() -> None:
    settings = MapperSettings()
    setup_logging(settings.log_level)
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
