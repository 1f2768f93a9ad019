"""The FastAPI application factory of the observation intake service.

Run with ``electwatch serve --workers N``: every worker process builds the app from
the same environment (:func:`app_from_env`); everything the workers must agree on
(revocations, rate and guess limits, the CSRF key) is in the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from electwatch import __version__
from electwatch.storage.db import make_engine, session_factory, upgrade
from electwatch.storage.shared_state import WindowCounters, shared_secret
from electwatch.storage.writer import ReportWriter
from electwatch.web.auth import SESSION_COOKIE, CredentialCache
from electwatch.web.fastpath import ReportFastPath
from electwatch.web.security import SharedRateLimiter, cache_key
from electwatch.web.settings import Settings

log = logging.getLogger("electwatch.web")


@dataclass
class ServiceContext:
    """Per-app state: settings, database, the report writer, limits and caches."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    writer: ReportWriter
    counters: WindowCounters
    limiter: SharedRateLimiter
    credentials: CredentialCache
    #: at-rest encryption (None when no key is configured)
    cipher: Any = None
    #: reports answered by the fast path (web/fastpath.py), for tests and monitoring
    fast_path_reports: int = 0

    @property
    def secret_key(self) -> str:
        """The HMAC key of CSRF tokens, device cookies and client hashes."""
        if not self.settings.secret_key:
            self.settings.secret_key = shared_secret(self.factory, "hmac")
        return self.settings.secret_key


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service. The database is migrated (Alembic) at startup if ``migrate``."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    counters = WindowCounters(factory)
    from electwatch.storage.crypto import cipher_from, set_active_cipher

    ctx = ServiceContext(
        settings=settings,
        engine=engine,
        factory=factory,
        writer=ReportWriter(factory, settings.writer_batch),
        counters=counters,
        limiter=SharedRateLimiter(
            counters,
            settings.rate_burst,
            settings.rate_window_seconds,
            "rate:",
            settings.lease,
        ),
        credentials=CredentialCache(settings.credential_cache_seconds),
        cipher=cipher_from(
            settings.encryption_key, settings.encryption_key_file, settings.old_encryption_keys
        ),
    )
    set_active_cipher(ctx.cipher)
    from electwatch.web.auth import dummy_hash

    dummy_hash()  # made now, so the first unknown-name login costs what later ones do

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate:
            upgrade(engine)
        _ = ctx.secret_key  # generated once and stored, or read (every process agrees)
        settings.evidence_dir.mkdir(parents=True, exist_ok=True)
        ctx.writer = ReportWriter(factory, settings.writer_batch, ctx.cipher)
        ctx.writer.start()
        try:
            yield
        finally:
            await ctx.writer.stop()
            engine.dispose()

    app = FastAPI(
        title="electwatch observation intake",
        version=__version__,
        description="Observers submit station reports; coordinators resolve conflicts; "
        "analysts watch the live turnout estimate.",
        lifespan=lifespan,
        # the interactive docs UI loads scripts from a CDN: never served; the OpenAPI
        # document itself only when asked for (off in production by default)
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    app.state.ctx = ctx
    app.add_middleware(ReportFastPath, ctx=ctx)
    app.add_middleware(LimitsBeforeBody, ctx=ctx)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # log the error without the client's address (observer safety)
        log.error("internal error on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    from electwatch.web.api import router as api_router

    app.include_router(api_router)
    from electwatch.web.api_snapshots import router as snapshots_router

    app.include_router(snapshots_router)
    try:
        from electwatch.web.pages import router as pages_router
    except ModuleNotFoundError as exc:
        if exc.name != "electwatch.web.pages":
            raise
    else:
        app.include_router(pages_router)
    return app


MAX_ECHO = 100


def _safe_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v if abs(v) < 10**15 else f"<{len(str(v))}-digit number>"
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else str(v)
    if isinstance(v, str):
        clean = v.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
        return clean if len(clean) <= MAX_ECHO else f"<text of {len(v)} characters>"
    return f"<{type(v).__name__}>"


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors that name the field and say what was expected, echoing the
    offending value only when it is small and printable (never a large body, never a
    NaN or lone surrogate that would break the JSON answer)."""
    out = []
    for e in list(errors)[:50]:
        item: dict[str, Any] = {
            "loc": [x if isinstance(x, int) else _safe_value(str(x)) for x in e.get("loc", ())],
            "msg": _safe_value(str(e.get("msg", ""))),
            "type": str(e.get("type", "")),
        }
        if "input" in e and not isinstance(e["input"], dict | list):
            item["input"] = _safe_value(e["input"])
        out.append(item)
    return out


def _credential_of(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            _, _, rest = value.decode("latin-1").partition(" ")
            return rest.strip() or None
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == SESSION_COOKIE and v:
                    return v
    return None


class LimitsBeforeBody:
    """Pure ASGI middleware: request bodies larger than ``max_anonymous_body`` are
    accepted only from a caller whose credential is valid, and that is decided
    *before* the body is read (a 100 MB upload with no or a wrong credential is
    refused after its headers, not received in full). Also adds HSTS when set."""

    def __init__(self, app: Any, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = self.ctx.settings
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # no database stores a NUL; refused here for every path and query parameter
            await JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["path" if "\x00" in scope["path"] else "query"],
                            "msg": "NUL characters are not allowed",
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )(scope, receive, send)
            return
        if st.hsts_seconds > 0:
            send = _with_header(
                send, b"strict-transport-security", f"max-age={st.hsts_seconds}".encode()
            )
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() and len(value) < 19 else 1 << 62
            elif name == b"transfer-encoding":
                chunked = True
        big = (length is not None and length > st.max_anonymous_body) or (
            chunked and length is None
        )
        if big and not await self._authenticated(scope):
            limit = st.max_anonymous_body
            if chunked and length is None:
                receive = _capped(receive, limit)
            else:
                await JSONResponse(
                    {"detail": f"request body larger than {limit} bytes needs a valid credential"},
                    status_code=413,
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _authenticated(self, scope: dict[str, Any]) -> bool:
        value = _credential_of(scope)
        if not value:
            return False
        ctx = self.ctx
        if ctx.credentials.get(cache_key(value)) is not None:
            return True
        import anyio

        from electwatch.web.auth import load_principal

        p = await anyio.to_thread.run_sync(load_principal, ctx.factory, value)
        if p is not None:
            ctx.credentials.put(cache_key(value), p)
        return p is not None


class BodyTooLarge(Exception):
    pass


def _capped(receive: Any, limit: int) -> Any:
    seen = 0

    async def inner() -> dict[str, Any]:
        nonlocal seen
        msg: dict[str, Any] = await receive()
        seen += len(msg.get("body", b""))
        if seen > limit:
            # the app sees a disconnect: the request is dropped, nothing more is read
            return {"type": "http.disconnect"}
        return msg

    return inner


def _with_header(send: Any, name: bytes, value: bytes) -> Any:
    async def inner(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return inner


class DropClientAddress(logging.Filter):
    """Replace the client address in uvicorn's access log records with '-' and drop
    the query string of the logged path.

    uvicorn's access record args are ``(client_addr, method, path, http_version,
    status)``; observers' IP addresses must never reach a log, and query strings may
    carry identifiers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path = str(args[2]).split("?", 1)[0]
            record.args = ("-", args[1], path, *args[3:])
        return True


def uvicorn_log_config(access_log: bool) -> dict[str, object]:
    """uvicorn logging: errors to stderr; access lines only if asked, never with an IP."""
    from uvicorn.config import LOGGING_CONFIG

    cfg: dict[str, object] = {**LOGGING_CONFIG}
    cfg["filters"] = {"no_ip": {"()": DropClientAddress}}
    handlers = {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()}
    handlers["access"]["filters"] = ["no_ip"]
    cfg["handlers"] = handlers
    loggers = {k: dict(v) for k, v in LOGGING_CONFIG["loggers"].items()}
    loggers["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    cfg["loggers"] = loggers
    return cfg


def app_from_env() -> FastAPI:
    """The app of one worker process of ``serve --workers N`` (settings from the
    environment the parent set)."""
    import gc

    app = create_app(Settings.from_env())
    # Move everything loaded so far (FastAPI, SQLAlchemy, polars, ...) out of the
    # collector's reach: a full collection then walks only objects made while serving.
    # Measured under load: the longest gen-2 pause fell from 163 ms to 26 ms.
    gc.collect()
    gc.freeze()
    return app


def run_server(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    access_log: bool = False,
    workers: int = 1,
) -> None:
    """Run ``workers`` uvicorn worker processes sharing the database. The schema is
    migrated once here, before the workers start (not by each of them)."""
    import os

    import uvicorn

    if settings.migrate:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        engine.dispose()
    os.environ.update(settings.to_env())
    os.environ["ELECTWATCH_MIGRATE"] = "0"
    uvicorn.run(
        "electwatch.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=max(1, workers),
        access_log=access_log,
        log_config=uvicorn_log_config(access_log),
        server_header=False,
        # X-Forwarded-For is read (for the guess limits only) by web.security's
        # client_address from configured proxies; uvicorn must not rewrite the peer
        proxy_headers=False,
        date_header=False,
    )
