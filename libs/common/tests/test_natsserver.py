from __future__ import annotations

import socket

import nats
import pytest

from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.streams import ALL_BUCKETS, ALL_STREAMS, declare_all


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.nats
async def test_embedded_server_runs_jetstream_on_a_free_port_and_stops_cleanly(tmp_path):
    server = EmbeddedNats(store_dir=tmp_path / "store").start()
    port = int(server.url.rsplit(":", 1)[1])
    try:
        assert port != 4222
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await declare_all(js)
        await declare_all(js)  # idempotent: a second service starting declares again
        names = {s.config.name for s in await js.streams_info()}
        assert {s.name for s in ALL_STREAMS} <= names
        assert {f"KV_{b}" for b in ALL_BUCKETS} <= names
        ack = await js.publish("st.events.t1.invoice", b"{}", headers={"Nats-Msg-Id": "x"})
        dup = await js.publish("st.events.t1.invoice", b"{}", headers={"Nats-Msg-Id": "x"})
        assert not ack.duplicate
        assert dup.duplicate
        await nc.close()
    finally:
        server.stop()
    assert not _port_in_use(port)
    assert (tmp_path / "store").exists()
