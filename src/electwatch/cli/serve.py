"""``electwatch serve``: run the intake service and set up its database."""

from __future__ import annotations

from pathlib import Path

import typer

from electwatch.cli.common import out, user_errors

serve_app = typer.Typer(
    help="Observation intake service: run it and set up its database.", invoke_without_command=True
)

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="ELECTWATCH_DB",
    help="Database URL (default: SQLite file ./electwatch.sqlite3; production: "
    "postgresql+psycopg://user@host:5432/db).",
)


def _url(db: str | None) -> str:
    from electwatch.storage.db import default_url

    return db or default_url()


def _session(db: str | None):  # type: ignore[no-untyped-def]
    from electwatch.storage.db import make_engine, session_factory, upgrade

    engine = make_engine(_url(db))
    upgrade(engine)
    return session_factory(engine)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    db: str | None = DB_OPTION,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    evidence_dir: Path = typer.Option(
        Path("electwatch-evidence"), help="Folder of the content-addressed evidence store."
    ),
    access_log: bool = typer.Option(
        False, help="Log requests (never with client addresses or query strings)."
    ),
    rate: float = typer.Option(10.0, help="Requests per second allowed per credential."),
    burst: int = typer.Option(60, help="Burst size of the per-credential rate limit."),
    workers: int = typer.Option(
        1, help="Worker processes; they share revocations, limits and secrets in the database."
    ),
    trusted_proxy: list[str] = typer.Option(
        [],
        "--trusted-proxy",
        help="Address or network of a reverse proxy whose X-Forwarded-For is believed "
        "(repeatable; never logged, used only for the guess limits).",
    ),
    secure_cookies: bool = typer.Option(
        False, help="Mark cookies Secure (serve behind TLS; env ELECTWATCH_SECURE_COOKIES=1)."
    ),
    hsts_seconds: int = typer.Option(
        0, help="Send Strict-Transport-Security with this max-age (0: off; TLS only)."
    ),
    api_docs: bool = typer.Option(False, help="Serve the OpenAPI document at /openapi.json."),
) -> None:
    """Run the service (``--workers`` uvicorn processes). Migrates the database first."""
    if ctx.invoked_subcommand is not None:
        return
    from electwatch.web.app import run_server
    from electwatch.web.settings import Settings

    settings = Settings.from_env()
    settings.database_url = _url(db)
    settings.evidence_dir = evidence_dir
    settings.rate_per_second, settings.rate_burst = rate, burst
    if trusted_proxy:
        settings.trusted_proxies = tuple(trusted_proxy)
    settings.cookie_secure = settings.cookie_secure or secure_cookies
    settings.hsts_seconds = hsts_seconds or settings.hsts_seconds
    settings.api_docs = settings.api_docs or api_docs
    out.print(f"electwatch intake service on http://{host}:{port} ({workers} worker(s))")
    run_server(settings, host, port, access_log, workers)


@serve_app.command("new-key")
def new_key() -> None:
    """Print a new at-rest encryption key (store it in a file readable only by the
    service, and point ELECTWATCH_ENCRYPTION_KEY_FILE at it)."""
    from electwatch.storage.crypto import new_key as make

    print(make())


@serve_app.command("rotate-key")
def rotate_key(
    db: str | None = DB_OPTION,
    evidence_dir: Path = typer.Option(Path("electwatch-evidence")),
    new_key_file: Path = typer.Option(..., help="File holding the new key."),
) -> None:
    """Re-encrypt every note and evidence file with the new key. The current key (and
    any older ones) must be configured as usual (ELECTWATCH_ENCRYPTION_KEY[_FILE],
    ELECTWATCH_OLD_ENCRYPTION_KEYS) to read the data; afterwards configure only the
    new key."""
    from electwatch.storage.rotation import rotate
    from electwatch.web.settings import Settings

    with user_errors():
        settings = Settings.from_env()
        factory = _session(db)
        summary = rotate(factory, settings, evidence_dir, new_key_file.read_text().strip())
    out.print(f"re-encrypted {summary}")


@serve_app.command("init-db")
def init_db(db: str | None = DB_OPTION) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from electwatch.storage.db import current_revision, make_engine, upgrade

    engine = make_engine(_url(db))
    upgrade(engine)
    out.print(f"database at revision {current_revision(engine)}")


@serve_app.command("create-election")
def create_election(
    name: str = typer.Argument(...),
    db: str | None = DB_OPTION,
    country: str | None = typer.Option(None),
    date: str | None = typer.Option(None, help="YYYY-MM-DD"),
    open_hour: int = typer.Option(8),
    close_hour: int = typer.Option(20),
    stations: Path | None = typer.Option(None, help="Results file whose station frame to import."),
    mapping: str | None = typer.Option(None, "--mapping", "-m"),
) -> None:
    """Create an election and optionally import its station frame from a results file."""
    from electwatch.data import load_results
    from electwatch.storage import service as svc
    from electwatch.storage.db import transaction

    with user_errors():
        factory = _session(db)
        results = load_results(stations, mapping, allow_inconsistent=True) if stations else None
        with transaction(factory) as s:
            e = svc.create_election(
                s,
                name,
                country=country,
                date=date,
                open_hour=open_hour,
                close_hour=close_hour,
                synthetic=bool(results and results.synthetic),
            )
            summary = svc.import_stations(s, e.id, results) if results is not None else {}
    out.print(f"election {e.id} {name!r} created {summary}")


@serve_app.command("create-user")
def create_user(
    role: str = typer.Argument(..., help="observer | coordinator | analyst | admin"),
    db: str | None = DB_OPTION,
    username: str | None = typer.Option(None, help="Login name (observers get a pseudonym)."),
    password: bool = typer.Option(False, "--password", help="Prompt for a password."),
    token: bool = typer.Option(True, help="Print a new API token for the user."),
) -> None:
    """Create a user and print its pseudonym and an API token (shown once)."""
    from electwatch.storage import service as svc
    from electwatch.storage.db import transaction

    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with user_errors():
        factory = _session(db)
        with transaction(factory) as s:
            u = svc.create_user(s, role, username, secret)
            tok = svc.issue_credential(s, u, "tok", "cli") if token else None
    out.print(f"{u.role} {u.username} pseudonym={u.pseudonym}")
    if tok:
        out.print(f"token: {tok}")


@serve_app.command("assign")
def assign(
    observer: str = typer.Argument(..., help="Observer pseudonym."),
    election_id: int = typer.Argument(...),
    station: list[str] = typer.Argument(..., help="Station codes."),
    db: str | None = DB_OPTION,
) -> None:
    """Assign an observer to stations."""
    from sqlalchemy import select

    from electwatch.storage import service as svc
    from electwatch.storage.db import transaction
    from electwatch.storage.models import User

    with user_errors(), transaction(_session(db)) as s:
        u = s.scalar(select(User).where(User.pseudonym == observer))
        if u is None:
            raise svc.ServiceError(f"no user {observer!r}")
        for code in station:
            st = svc.station_by_code(s, election_id, code)
            if st is None:
                raise svc.ServiceError(f"no station {code!r} in election {election_id}")
            svc.assign_station(s, u, st)
    out.print(f"{observer} assigned to {len(station)} stations")


@serve_app.command("coordinate")
def coordinate(
    coordinator: str = typer.Argument(..., help="Coordinator pseudonym."),
    election_id: int = typer.Argument(...),
    area: str = typer.Argument(..., help="Area name (any level)."),
    db: str | None = DB_OPTION,
) -> None:
    """Make a coordinator responsible for an area (and everything under it)."""
    from sqlalchemy import select

    from electwatch.storage import service as svc
    from electwatch.storage.db import transaction
    from electwatch.storage.models import Area, User

    with user_errors(), transaction(_session(db)) as s:
        u = s.scalar(select(User).where(User.pseudonym == coordinator))
        areas = list(
            s.scalars(select(Area).where(Area.election_id == election_id, Area.name == area))
        )
        if u is None or len(areas) != 1:
            raise svc.ServiceError(
                f"need one user {coordinator!r} and one area {area!r} (found {len(areas)} areas)"
            )
        svc.add_coordinator_area(s, u, areas[0])
    out.print(f"{coordinator} coordinates {area}")


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
