"""A lean path for the one hot endpoint, ``POST /api/elections/{id}/reports``.

On election day almost every request is an observer's report submission, and
FastAPI's per-request machinery (dependency solving, body handling, exit stacks)
costs several times what the report itself costs. This ASGI wrapper answers the
*common, fully valid* case itself and hands everything else to the FastAPI route
unchanged, so every error, and every decision that is not a plain "yes", comes
from the one declared route:

* the caller sends ``Authorization: Bearer <token>`` that is already in the
  verified-credential cache, of an observer (web sessions, with their CSRF checks,
  and unknown tokens go to the route);
* the body is a valid ``ReportBody`` (else the route answers 422 with FastAPI's
  error format);
* the credential's rate limit allows the request (checked last, so a request
  handed over after a refusal is not charged twice; an exhausted window charges
  nothing and the route answers 429).

The cached credential is not re-checked here: the writer re-checks it (revoked,
expired, user disabled) in the transaction that stores the report, so a revoked
token's report is refused with 401 by every process at once.

Only then is the report given to the same writer, and the answer built by the same
``write_response`` as the route's. The permission tests exercise the route through
this wrapper, so both paths are checked against the declared policy.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from electwatch.storage.writer import ReportIn
from electwatch.web.security import cache_key

log = logging.getLogger("electwatch.web")

_PATH = re.compile(r"/api/elections/(\d{1,18})/reports")
_MAX_BODY = 64 * 1024

Scope = dict[str, Any]


class ReportFastPath:
    """ASGI middleware: the valid-report case of the hot route answered here.

    Installed with ``app.add_middleware(ReportFastPath, ctx=ctx)``; ``ctx`` is the
    app's :class:`~electwatch.web.app.ServiceContext` (its writer and settings are
    read per request: the lifespan replaces the writer, and
    ``settings.report_fast_path = False`` turns the fast path off)."""

    def __init__(self, app: Any, ctx: Any) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or not self.ctx.settings.report_fast_path
            or scope["method"] != "POST"
            or (m := _PATH.fullmatch(scope["path"])) is None
        ):
            await self.app(scope, receive, send)
            return
        token, json_body = _headers(scope)
        ctx = self.ctx
        principal = ctx.credentials.get(cache_key(token)) if token else None
        if (
            not json_body
            or principal is None
            or principal.kind != "token"
            or principal.role != "observer"
        ):
            await self.app(scope, receive, send)
            return
        # read the body once; if the route takes over it gets the same bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= _MAX_BODY:
            msg = await receive()
            if msg["type"] != "http.request":  # client went away
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = bool(msg.get("more_body", False))
        body = b"".join(chunks)

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()  # type: ignore[no-any-return]

        item = None if size > _MAX_BODY else _report(body, int(m.group(1)), principal)
        if item is None or not (await ctx.limiter.allow(principal.credential_id))[0]:
            await self.app(scope, replay, send)
            return
        from electwatch.web.api import write_response

        ctx.fast_path_reports += 1
        try:
            response = write_response(await ctx.writer.submit(item))
        except Exception as exc:  # as the app's handler: no client address in the log
            log.error("internal error on POST %s: %r", scope["path"], exc)
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        await response(scope, receive, send)


def _headers(scope: Scope) -> tuple[str | None, bool]:
    """The bearer token (None if absent or not a bearer credential), and whether the
    body is JSON to FastAPI: no content type, or ``application/json[; params]``."""
    token: str | None = None
    json_body = True
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            token = (rest.strip() or None) if scheme.lower() == "bearer" else None
        elif name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
    return token, json_body


def _report(body: bytes, election_id: int, principal: Any) -> ReportIn | None:
    from electwatch.web.api import ReportBody, report_in

    try:
        b = ReportBody.model_validate_json(body)
    except (ValidationError, ValueError):
        return None
    return report_in(b, election_id, principal)
