"""HTTP surface: POST /qbwc (SOAP 1.1), GET /qbwc?wsdl, GET /healthz."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind, Status, StatusCode

from mlconnector.gateway.interactive import interactive_handlers
from mlconnector.gateway.qbxmlversion import parse_version_number
from mlconnector.gateway.service import QbwcService
from mlconnector.gateway.soap import (
    SoapCall,
    SoapFault,
    client_fault,
    parse_call,
    render_fault,
    render_result,
)
from mlconnector.gateway.wsdl import render_wsdl

log = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"
Result = str | int | list[str]


def _handlers(service: QbwcService) -> dict[str, Callable[[SoapCall], Awaitable[Result]]]:
    async def send_request_xml(call: SoapCall) -> Result:
        major, minor = call.params["qbXMLMajorVers"], call.params["qbXMLMinorVers"]
        for value in (major, minor):
            # The WSDL's s:int; "13.0" is accepted too, as some clients send it.
            try:
                parse_version_number(value)
            except ValueError as exc:
                raise client_fault(f"expected an integer, got {value!r}") from exc
        return await service.send_request_xml(
            call.params["ticket"], call.params["strHCPResponse"], major, minor
        )

    return {
        "serverVersion": lambda call: service.server_version(),
        "clientVersion": lambda call: service.client_version(call.params["strVersion"]),
        "authenticate": lambda call: service.authenticate(
            call.params["strUserName"], call.params["strPassword"], call.client
        ),
        "sendRequestXML": send_request_xml,
        "receiveResponseXML": lambda call: service.receive_response_xml(
            call.params["ticket"],
            call.params["response"],
            call.params["hresult"],
            call.params["message"],
        ),
        "connectionError": lambda call: service.connection_error(
            call.params["ticket"], call.params["hresult"], call.params["message"]
        ),
        "getLastError": lambda call: service.get_last_error(call.params["ticket"]),
        "closeConnection": lambda call: service.close_connection(call.params["ticket"]),
        **interactive_handlers(),
    }


def _fault(fault: SoapFault) -> Response:
    # SOAP 1.1 puts faults on HTTP 500.
    return Response(render_fault(fault), status_code=500, media_type=XML)


def create_app(service: QbwcService) -> FastAPI:
    app = FastAPI(title="ml-connector QBWC gateway", docs_url=None, redoc_url=None)
    handlers = _handlers(service)
    settings = service.settings

    @app.post("/qbwc")
    async def soap(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.qbwc_max_body_bytes:
            return _fault(client_fault("The request body is larger than this gateway accepts"))
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            # Stop reading early: a chunked body has no length to check up front.
            if len(body) > settings.qbwc_max_body_bytes:
                return _fault(client_fault("The request body is larger than this gateway accepts"))
        # One span per SOAP call, named after the operation once the body says which; the
        # service adds qbwc.connection when the ticket or user name resolves to one.
        with service.tracer.start_as_current_span(
            "qbwc SOAP", kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                call = parse_call(bytes(body), max_bytes=settings.qbwc_max_body_bytes)
                call = replace(call, client=request.client.host if request.client else "")
                span.update_name(f"qbwc {call.operation}")
                span.set_attribute("qbwc.operation", call.operation)
                result = await handlers[call.operation](call)
            except SoapFault as fault:
                log.warning("SOAP fault %s: %s", fault.faultcode, fault.faultstring)
                span.set_status(Status(StatusCode.ERROR, f"{fault.faultcode}: {fault.faultstring}"))
                return _fault(fault)
            except Exception as exc:
                log.exception("SOAP call failed")
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                return _fault(
                    SoapFault("soap:Server", "The gateway could not process the call; see its log")
                )
        return Response(render_result(call.operation, result), media_type=XML)

    @app.get("/qbwc")
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return Response(
                "This is the QuickBooks Web Connector endpoint; GET /qbwc?wsdl for its WSDL.\n",
                media_type="text/plain",
            )
        return Response(render_wsdl(settings.qbwc_public_url), media_type=XML)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        connected = service.is_connected()
        return JSONResponse(
            {"status": "ok" if connected else "degraded", "nats": connected},
            status_code=200 if connected else 503,
        )

    return app
