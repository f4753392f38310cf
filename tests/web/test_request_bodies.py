"""CirqlizRequest.stream(): multipart bodies checked chunk by chunk, every other body given as Litestar reads it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Request

from cirqliz.web.bodies import CirqlizRequest, UnreadableBody


def _request(content_type: bytes, body: bytes) -> CirqlizRequest:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-type", content_type)],
             "query_string": b"", "state": {},
             "route_handler": SimpleNamespace(resolve_request_max_body_size=lambda: 1024 * 1024)}
    return CirqlizRequest(scope, receive)  # type: ignore[arg-type]


def test_a_json_body_is_read_without_a_second_generator() -> None:
    request = _request(b"application/json", b'{"zone": "PARIS-CENTRE"}')
    stream = request.stream()
    assert stream.ag_code is Request.stream.__code__  # Litestar's own generator, not one wrapped around it

    async def read() -> bytes:
        return b"".join([chunk async for chunk in stream])

    assert asyncio.run(read()) == b'{"zone": "PARIS-CENTRE"}'
    assert asyncio.run(_request(b"application/json", b'{"a": 1}').json()) == {"a": 1}


def test_a_multipart_text_part_with_a_control_character_is_still_refused() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA\x01B\r\n--b--\r\n")
    request = _request(b"multipart/form-data; boundary=b", body)

    async def read() -> None:
        async for _ in request.stream():
            pass

    with pytest.raises(UnreadableBody, match="caractère de contrôle"):
        asyncio.run(read())
