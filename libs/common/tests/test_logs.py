"""The shared log set-up: plain lines in files, colour only on a terminal, per-request lines
only at DEBUG, and no library handler of its own left to write escape codes."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator

import pytest

from mlconnector.common.broker import make_broker
from mlconnector.common.logs import PER_REQUEST_LOGGERS, setup_logging
from mlconnector.common.settings import BaseServiceSettings

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\S+) (\S+) (.*)$")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in PER_REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_a_file_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    setup_logging("INFO", out)
    logging.getLogger("mlconnector.mapper").warning("mapping %s failed", "evt-1")
    logging.getLogger("mlconnector.mapper").debug("not shown at INFO")
    [line] = out.getvalue().splitlines()
    assert "\x1b" not in line
    match = LINE.match(line)
    assert match is not None, line
    assert match.groups() == ("WARNING", "mlconnector.mapper", "mapping evt-1 failed")


def test_a_terminal_gets_colour_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        setup_logging("INFO", terminal)
        logging.getLogger("mlconnector.audit").error("boom")
        terminal.flush()
        shown = os.read(primary, 4096).decode()
    os.close(primary)
    assert "\x1b[31mERROR\x1b[0m mlconnector.audit boom" in shown

    monkeypatch.setenv("NO_COLOR", "1")
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        setup_logging("INFO", terminal)
        logging.getLogger("mlconnector.audit").error("boom")
        terminal.flush()
        shown = os.read(primary, 4096).decode()
    os.close(primary)
    assert "\x1b" not in shown


def test_per_request_lines_only_at_debug() -> None:
    out = io.StringIO()
    setup_logging("INFO", out)
    logging.getLogger("httpx").info('HTTP Request: GET http://st/export/invoices "200 OK"')
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "POST /qbwc HTTP/1.1" 200')
    logging.getLogger("httpx").warning("kept: a warning is not per-request chatter")
    assert out.getvalue().count("\n") == 1

    out = io.StringIO()
    setup_logging("debug", out)
    logging.getLogger("httpx").info('HTTP Request: GET http://st/export/invoices "200 OK"')
    assert "HTTP Request" in out.getvalue()


def test_unknown_level_is_named() -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL 'LOUD' is not a level"):
        setup_logging("LOUD")


@pytest.mark.nats
async def test_the_broker_logs_through_the_process_set_up(nats_url: str) -> None:
    """FastStream's default broker logger writes colour codes whatever the stream; ours must
    not have a handler of its own, and FastStream's per-task chatter is DEBUG-only."""
    out = io.StringIO()
    setup_logging("INFO", out)
    broker = make_broker(BaseServiceSettings(NATS_URL=nats_url), "test")
    await broker.connect()
    try:
        broker.config.logger.log("Connection broken with UnexpectedEOF()", logging.WARNING)
        broker.config.logger.log("callback for Task-9 is being executed...", logging.INFO)
        broker.config.logger.log("Received", logging.DEBUG)
    finally:
        await broker.stop()
    assert logging.getLogger("mlconnector.broker").handlers == []
    assert logging.getLogger("faststream").handlers == []
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith("WARNING mlconnector.broker Connection broken with UnexpectedEOF()")
