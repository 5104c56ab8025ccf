"""Reading many KV keys in one request: JetStream's batched direct get (`multi_last`).

`KeyValue.get` costs one request per key; a round that needs the id map entries of 50
records would make 50. A stream with `allow_direct` answers `$JS.API.DIRECT.GET.<stream>` with
`{"multi_last": [subject, ...]}` by streaming the last message of each subject, then a 204
end-of-batch status (nats-server 2.11+, ADR-31); a request names at most `MAX_SUBJECTS`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError

MAX_SUBJECTS = 1024  # the server refuses a multi_last request matching more (413)


class BatchGetError(RuntimeError):
    """The server did not answer a batched direct get (or answered an error status)."""


async def last_values(
    nc: Client, stream: str, subjects: Sequence[str], wait_seconds: float = 5.0
) -> dict[str, bytes]:
    """subject -> the data of its last message, for those of `subjects` that hold a value
    (a deleted or purged key is left out). Raises BatchGetError."""
    found: dict[str, bytes] = {}
    wanted = list(dict.fromkeys(subjects))
    for start in range(0, len(wanted), MAX_SUBJECTS):
        chunk = wanted[start : start + MAX_SUBJECTS]
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        try:
            request = {"multi_last": chunk, "batch": len(chunk)}
            await nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            while True:
                try:
                    msg = await sub.next_msg(timeout=wait_seconds)
                except NatsTimeoutError:
                    raise BatchGetError(f"{stream} did not answer a batched get") from None
                headers = msg.headers or {}
                status = headers.get("Status")
                if status in ("204", "404"):  # end of batch; nothing (more) found
                    break
                if status:
                    raise BatchGetError(f"{stream} answered {status} to a batched get")
                if headers.get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
                    continue
                found[headers["Nats-Subject"]] = msg.data
        finally:
            await sub.unsubscribe()
    return found
