"""The baseline: a bare FastAPI app answering every SOAP POST with a fixed envelope, started
like the gateway (its own uvicorn process), so the bench can print the gateway's latency as a
ratio of what FastAPI + uvicorn + HTTP cost on this machine in the same run.

    python -m bench.gateway.echo PORT
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

ANSWER = (
    b"<?xml version='1.0' encoding='utf-8'?>\n"
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<echoResponse xmlns="http://developer.intuit.com/"><echoResult>ok</echoResult>'
    b"</echoResponse></soap:Body></soap:Envelope>"
)

app = FastAPI()


@app.post("/qbwc")
async def echo(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="text/xml; charset=utf-8")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
