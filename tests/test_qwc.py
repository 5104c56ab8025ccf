from __future__ import annotations

import pytest
from lxml import etree

from mlconnector.cli.qwc import QwcError, build_qwc
from mlconnector.common.connections import Connection


@pytest.fixture
def connection() -> Connection:
    return Connection.create("acme", "1234567", "acme-qb", "password1")


def test_qwc_names_the_app_user_and_stable_ids(connection: Connection) -> None:
    qwc = build_qwc(connection, "https://sync.example.com/qbwc", run_every_minutes=10)
    root = etree.fromstring(qwc.encode())
    assert root.tag == "QBWCXML"
    assert [c.tag for c in root] == [
        "AppName",
        "AppID",
        "AppURL",
        "AppDescription",
        "AppSupport",
        "UserName",
        "OwnerID",
        "FileID",
        "QBType",
        "Scheduler",
        "IsReadOnly",
    ]
    assert root.findtext("AppURL") == "https://sync.example.com/qbwc"
    assert root.findtext("AppSupport") == "https://sync.example.com/healthz"
    assert root.findtext("UserName") == "acme-qb"
    assert root.findtext("OwnerID") == connection.owner_id
    assert root.findtext("FileID") == connection.file_id
    assert root.findtext("QBType") == "QBFS"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "10"
    assert connection.password_hash not in qwc
    # Downloading it again must not make the Web Connector list the app twice.
    assert build_qwc(connection, "https://sync.example.com/qbwc", 10) == qwc


def test_plain_http_is_allowed_only_for_localhost(connection: Connection) -> None:
    assert "<AppURL>http://localhost:8080/qbwc</AppURL>" in build_qwc(
        connection, "http://localhost:8080/qbwc"
    )
    with pytest.raises(QwcError, match="only accepts https"):
        build_qwc(connection, "http://sync.example.com/qbwc")
