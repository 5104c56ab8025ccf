"""The log set-up every ml-connector process shares: plain lines, colour only on a terminal.

One line per record, `2026-03-14 08:00:00,123 INFO mlconnector.mapper message`, on stderr
(`mlconnector up` sends each process's stderr to its file in `~/.mlconnector/logs/`).

Why the libraries' own set-ups are replaced:

- FastStream gives its loggers a handler that always writes colour escape codes
  (faststream 0.7.8, `_internal/logger/logging.py`: `ColourizedFormatter(use_colors=True)`), so
  the broker logs to `mlconnector.broker` instead (see `broker.make_broker`) and the
  `faststream` logger propagates here.
- uvicorn's default logging config decides colour from `sys.stdout.isatty()` and logs every
  HTTP request at INFO; services pass `log_config=None` to `uvicorn.Config` so that its
  loggers propagate here, where per-request lines are DEBUG-only.
- httpx logs every request at INFO (`HTTP Request: GET ... "HTTP/1.1 200 OK"`): one line per
  ServiceTitan call, five per idle poll.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Loggers that write a line per request or per message at INFO: shown only at DEBUG.
PER_REQUEST_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "uvicorn.error")

# FastStream's broker logs this at INFO for every subscriber task that ends, e.g. each of
# audit's four consumers at every stop (faststream 0.7.8, subscriber/supervisor.py).
_CHATTER_PREFIXES = ("callback for ",)

_COLOURS = {
    logging.DEBUG: "\x1b[2m",  # dim
    logging.INFO: "\x1b[32m",  # green
    logging.WARNING: "\x1b[33m",  # yellow
    logging.ERROR: "\x1b[31m",  # red
    logging.CRITICAL: "\x1b[1;31m",  # bold red
}
_RESET = "\x1b[0m"


class LineFormatter(logging.Formatter):
    """`FORMAT`, with the level name coloured when `colour` is true (a terminal)."""

    def __init__(self, colour: bool) -> None:
        super().__init__(FORMAT)
        self.colour = colour

    def formatMessage(self, record: logging.LogRecord) -> str:
        if not self.colour:
            return super().formatMessage(record)
        plain = record.levelname
        record.levelname = f"{_COLOURS.get(record.levelno, '')}{plain}{_RESET}"
        try:
            return super().formatMessage(record)
        finally:
            record.levelname = plain


class DemoteChatter(logging.Filter):
    """Drops FastStream's per-task chatter unless its logger is enabled for DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not isinstance(record.msg, str):
            return True
        if record.msg.startswith(_CHATTER_PREFIXES):
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def wants_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure the root logger of this process (call once, first thing in `main`).

    `level` is a level name (`LOG_LEVEL`: DEBUG, INFO, WARNING...); `stream` defaults to
    stderr. Raises ValueError for an unknown level name.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"LOG_LEVEL {level!r} is not a level (DEBUG, INFO, WARNING, ERROR)")
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(LineFormatter(colour=wants_colour(out)))
    handler.addFilter(DemoteChatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("faststream", "uvicorn"):
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.setLevel(logging.NOTSET)
        library.propagate = True
    quiet = logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
    for name in PER_REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
