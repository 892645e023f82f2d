"""The service describes itself: GET /openapi.json (REST) and GET /asyncapi.json (the sockets)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from describe import asyncapi, openapi


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document())


async def asyncapi_document(request: Request) -> JSONResponse:
    return JSONResponse(asyncapi.document())


routes = [
    Route("/openapi.json", openapi_document, methods=["GET"], name="openapi"),
    Route("/asyncapi.json", asyncapi_document, methods=["GET"], name="asyncapi"),
]
