"""Load generation against a running intake server (used by the benchmark and the
crash test): simulated observers submitting reports over HTTP/1.1 keep-alive.

The client is a minimal asyncio HTTP/1.1 client (a request line, headers, a JSON
body; the response read by Content-Length), so the load generator spends little
CPU and the measurement is of the server, not of the client library. Each
simulated observer holds one connection and submits reports one after another
(a closed loop); latency is measured from the first byte sent to the last byte of
the response. Only HTTP 201 ("created, committed") and 200 ("already stored")
count as acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Observer:
    token: str
    station: str


@dataclass
class Outcome:
    report_id: str
    status: int  # 0 = no answer (connection failed or cut)
    latency: float
    sent_at: float


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def acknowledged(self) -> list[str]:
        return [o.report_id for o in self.outcomes if o.status in (200, 201)]

    def summary(self) -> dict[str, Any]:
        import numpy as np

        ok = [o for o in self.outcomes if o.status in (200, 201)]
        lat = np.array([o.latency for o in ok]) * 1000
        wall = max(self.finished - self.started, 1e-9)
        codes: dict[str, int] = {}
        for o in self.outcomes:
            codes[str(o.status)] = codes.get(str(o.status), 0) + 1
        return {
            "requests": len(self.outcomes),
            "acknowledged": len(ok),
            "seconds": wall,
            "reports_per_s": len(ok) / wall,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
            "max_ms": float(lat.max()) if len(lat) else None,
            "status_codes": codes,
        }


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def report_body(station: str, rng_voters: int, rid: str | None = None) -> dict[str, Any]:
    return {
        "id": rid or str(uuid.uuid4()),
        "station": station,
        "window_start": "08:00",
        "window_end": "20:00",
        "voters": rng_voters,
        "notes": "SYNTHETIC load test",
    }


async def run_observers(
    host: str,
    port: int,
    election_id: int,
    observers: list[Observer],
    per_observer: int,
    deadline: float,
    stop: asyncio.Event | None = None,
    interval: float | None = None,
) -> LoadResult:
    """Every observer submits ``per_observer`` reports until ``deadline``.

    Closed loop (``interval`` None): the next report as soon as the last is answered;
    the latency is then mostly queueing behind the other observers. Open loop
    (``interval`` s): report i is due at ``start + offset + i * interval`` (offsets
    spread the observers evenly) and its latency is counted from when it was due, not
    from when it was sent, so a server that falls behind is charged for the wait
    (no coordinated omission).
    """
    result = LoadResult()
    path = f"/api/elections/{election_id}/reports"
    # warm-up: each credential checked once (scrypt), outside the measurement
    conns = [Connection(host, port) for _ in observers]
    await asyncio.gather(
        *(c.request("GET", "/api/me", o.token) for c, o in zip(conns, observers, strict=True))
    )

    async def one(conn: Connection, obs: Observer, k: int) -> None:
        due = result.started + (interval or 0.0) * k / len(observers)
        for i in range(per_observer):
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return
            body = report_body(obs.station, (k * 7 + i) % 500)
            raw = json.dumps(body).encode()
            if interval is not None:
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                t0 = due
                due += interval
            else:
                t0 = time.perf_counter()
            try:
                status, _ = await conn.request("POST", path, obs.token, raw)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                result.outcomes.append(Outcome(body["id"], 0, time.perf_counter() - t0, t0))
                return
            result.outcomes.append(Outcome(body["id"], status, time.perf_counter() - t0, t0))

    result.started = time.perf_counter()
    await asyncio.gather(
        *(one(c, o, k) for k, (c, o) in enumerate(zip(conns, observers, strict=True)))
    )
    result.finished = time.perf_counter()
    for c in conns:
        c.close()
    return result


def _client_process(
    args: tuple[str, int, int, list[tuple[str, str]], int, float, float | None],
) -> Any:
    host, port, election_id, obs, per_observer, seconds, interval = args
    observers = [Observer(t, s) for t, s in obs]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    res = asyncio.run(
        run_observers(
            host,
            port,
            election_id,
            observers,
            per_observer,
            time.monotonic() + seconds,
            interval=interval,
        )
    )
    return (
        [(o.report_id, o.status, o.latency, o.sent_at) for o in res.outcomes],
        res.started,
        res.finished,
    )


def run_load_processes(
    host: str,
    port: int,
    election_id: int,
    observers: list[Observer],
    per_observer: int,
    seconds: float,
    processes: int,
    rate: float | None = None,
) -> LoadResult:
    """Spread the observers over ``processes`` client processes (separate from the
    server). ``rate``: offered load in reports/s over all observers (open loop);
    None: closed loop, as fast as the server answers."""
    interval = len(observers) / rate if rate else None
    from concurrent.futures import ProcessPoolExecutor

    chunks = [observers[i::processes] for i in range(processes)]
    jobs = [
        (
            host,
            port,
            election_id,
            [(o.token, o.station) for o in ch],
            per_observer,
            seconds,
            interval,
        )
        for ch in chunks
        if ch
    ]
    result = LoadResult()
    with ProcessPoolExecutor(len(jobs)) as pool:
        parts = list(pool.map(_client_process, jobs))
    result.started = min(p[1] for p in parts)
    result.finished = max(p[2] for p in parts)
    for outs, _, _ in parts:
        result.outcomes += [Outcome(*o) for o in outs]
    return result


class ServerProcess:
    """``electwatch serve`` in a subprocess (stdout+stderr captured to a file)."""

    def __init__(
        self,
        db_url: str,
        workdir: Path,
        port: int | None = None,
        access_log: bool = False,
        rate: float = 1000.0,
        burst: int = 1000,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.db_url, self.workdir = db_url, workdir
        self.workers = workers
        self.extra_env = env or {}
        self.port = port or free_port()
        self.access_log, self.rate, self.burst = access_log, rate, burst
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        src = str(Path(__file__).resolve().parents[2] / "src")
        env = {
            **os.environ,
            "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **self.extra_env,
        }
        cmd = [
            sys.executable,
            "-m",
            "electwatch.cli.main",
            "serve",
            "--db",
            self.db_url,
            "--port",
            str(self.port),
            "--evidence-dir",
            str(self.workdir / "evidence"),
            "--rate",
            str(self.rate),
            "--burst",
            str(self.burst),
            "--access-log" if self.access_log else "--no-access-log",
            "--workers",
            str(self.workers),
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open by the child)
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        log.close()
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if b"200 OK" in s.recv(200):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def pids(self) -> list[int]:
        """The server process and its worker processes (Linux /proc)."""
        if self.proc is None:
            return []
        pids = [self.proc.pid]
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return pids
        return pids + [int(k) for k in kids.split()]

    def workers_pids(self) -> list[int]:
        """The worker processes (uvicorn's spawned children, not multiprocessing's
        resource tracker; the server itself when it runs one worker)."""
        out = []
        for pid in self.pids()[1:]:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmd:
                out.append(pid)
        return out or self.pids()[:1]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server processes so far (Linux /proc)."""
        total = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of each server process now."""
        out = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1]) * 1024
            except OSError:
                continue
        return out

    def kill_one_worker(self) -> None:
        """SIGKILL one worker process (the supervisor and the other workers live on)."""
        pids = self.workers_pids()
        if self.proc is None or pids == [self.proc.pid]:
            self.kill9()
            return
        os.kill(pids[0], signal.SIGKILL)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- crash test: kill -9 mid-load, restart, check every acknowledged report -----------


@dataclass
class Sent:
    """One report as the observer sent it (the id is the idempotency key)."""

    observer: int  # index into the observer list
    body: dict[str, Any]
    status: int  # first answer; 0 = none (connection cut by the kill, or refused)


@dataclass
class CrashRun:
    """What the observers saw across a SIGKILL of the server and a restart."""

    sent: dict[str, Sent] = field(default_factory=dict)
    #: report id -> HTTP status of the resend to the restarted server
    resent: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    killed_at: float = 0.0

    @property
    def acknowledged(self) -> set[str]:
        return {k for k, v in self.sent.items() if v.status in (200, 201)}

    @property
    def unanswered(self) -> set[str]:
        return {k for k, v in self.sent.items() if v.status == 0}

    @property
    def refused(self) -> dict[str, int]:
        """Reports answered with something other than 200/201 before the kill (none expected)."""
        return {k: v.status for k, v in self.sent.items() if v.status not in (0, 200, 201)}


async def load_until_killed(
    host: str,
    port: int,
    election_id: int,
    observers: list[Observer],
    kill_after: float,
    kill: Any,
    run: CrashRun,
    limit: float = 30.0,
) -> None:
    """Observers submit reports in a closed loop; ``kill()`` (SIGKILL of the server)
    runs the instant the first acknowledgement arrives after ``kill_after`` s, while
    the other observers' requests are in flight. Killing right on an acknowledgement
    is what exposes an ack-before-commit bug: the acknowledged batch is then at its
    most likely to be uncommitted. Each observer stops at its first unanswered request,
    as a phone losing the server would (the report stays in its outbox to be resent).
    """
    path = f"/api/elections/{election_id}/reports"
    conns = [Connection(host, port) for _ in observers]
    await asyncio.gather(
        *(c.request("GET", "/api/me", o.token) for c, o in zip(conns, observers, strict=True))
    )
    deadline = time.monotonic() + limit
    armed, killed = asyncio.Event(), asyncio.Event()

    def kill_now() -> None:
        if not killed.is_set():
            killed.set()
            run.killed_at = time.perf_counter() - t0
            kill()  # synchronous: no other observer reads an answer before it

    async def one(k: int, conn: Connection, obs: Observer) -> None:
        i = 0
        while time.monotonic() < deadline:
            body = report_body(obs.station, (k * 7 + i) % 500)
            i += 1
            sent = Sent(k, body, 0)
            run.sent[body["id"]] = sent
            try:
                sent.status, _ = await conn.request(
                    "POST", path, obs.token, json.dumps(body).encode()
                )
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                conn.close()
                return
            if sent.status == 201 and armed.is_set():
                kill_now()

    async def killer() -> None:
        await asyncio.sleep(kill_after)
        armed.set()
        # no acknowledgement within 5 s (server stuck): kill anyway
        try:
            await asyncio.wait_for(killed.wait(), 5.0)
        except TimeoutError:
            kill_now()

    t0 = time.perf_counter()
    await asyncio.gather(
        killer(), *(one(k, c, o) for k, (c, o) in enumerate(zip(conns, observers, strict=True)))
    )
    run.load_seconds = time.perf_counter() - t0
    for c in conns:
        c.close()


async def resend(
    host: str, port: int, election_id: int, observers: list[Observer], run: CrashRun, ids: list[str]
) -> None:
    """Resend the given reports (same id and content) to the restarted server, each
    observer over its own connection."""
    path = f"/api/elections/{election_id}/reports"
    by_obs: dict[int, list[str]] = {}
    for rid in ids:
        by_obs.setdefault(run.sent[rid].observer, []).append(rid)

    async def one(k: int, rids: list[str]) -> None:
        conn = Connection(host, port)
        try:
            for rid in rids:
                raw = json.dumps(run.sent[rid].body).encode()
                run.resent[rid], _ = await conn.request("POST", path, observers[k].token, raw)
        finally:
            conn.close()

    await asyncio.gather(*(one(k, r) for k, r in by_obs.items()))


def crash(
    server: ServerProcess,
    election_id: int,
    observers: list[Observer],
    kill_after: float,
    run: CrashRun | None = None,
    kill: Any = None,
) -> CrashRun:
    """Load ``server`` and SIGKILL it (or call ``kill``, e.g. one worker's SIGKILL)
    after ``kill_after`` s, requests in flight (adding to ``run`` when given: several
    crashes in a row)."""
    run = run or CrashRun()
    asyncio.run(
        load_until_killed(
            "127.0.0.1", server.port, election_id, observers, kill_after, kill or server.kill9, run
        )
    )
    return run


def restart(server: ServerProcess) -> ServerProcess:
    """A new server process on the same database, port and evidence folder."""
    return ServerProcess(
        server.db_url,
        server.workdir,
        port=server.port,
        access_log=server.access_log,
        rate=server.rate,
        burst=server.burst,
        workers=server.workers,
        env=server.extra_env,
    ).start()


def resend_outbox(
    server: ServerProcess,
    election_id: int,
    observers: list[Observer],
    run: CrashRun,
    also_acknowledged: int = 50,
) -> list[str]:
    """Resend every unanswered report and up to ``also_acknowledged`` acknowledged ones
    (a client that lost the answer, or resends to be sure); returns the ids resent.
    A report the resend got acknowledged counts as acknowledged from then on."""
    ids = sorted(run.unanswered) + sorted(run.acknowledged)[:also_acknowledged]
    asyncio.run(resend("127.0.0.1", server.port, election_id, observers, run, ids))
    for rid in ids:
        if run.sent[rid].status == 0 and run.resent.get(rid) in (200, 201):
            run.sent[rid].status = run.resent[rid]
    return ids
