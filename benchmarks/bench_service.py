"""Load benchmark of the intake service on loopback.

N simulated observers (in client processes separate from the server) submit
SYNTHETIC reports to ``electwatch serve`` (one uvicorn worker), either as fast as
the server acknowledges them (closed loop: throughput; latency is then mostly
queueing behind the other observers) or at a fixed offered rate (``--rate``, open
loop: latency at that load, counted from when each report was due). Printed per
database: sustained acknowledged reports/s,
p50/p99 latency, and acknowledged vs stored reports (must be equal). The baseline
is the same server with group commit disabled (one transaction per report,
ELECTWATCH_WRITER_BATCH=1); the ratio is group commit over baseline.

    PYTHONPATH=src python benchmarks/bench_service.py            # small (CI): ~60 s
    PYTHONPATH=src python benchmarks/bench_service.py --full     # 64 observers, 20k reports
    PYTHONPATH=src python benchmarks/bench_service.py --db sqlite
    PYTHONPATH=src python benchmarks/bench_service.py --rate 500 # open loop, 500/s offered
    PYTHONPATH=src python benchmarks/bench_service.py --crash    # kill -9 mid-load, 3 times
    PYTHONPATH=src python benchmarks/bench_service.py --db postgresql --workers 2 --crash
        # kill -9 of ONE worker mid-load; the other and the restarted one keep serving
    PYTHONPATH=src python benchmarks/bench_service.py --images   # 6 x 40-Mpx uploads, RSS

``--workers N`` (default 2) runs ``electwatch serve --workers N``. ``--images``: six
observers upload a 40-megapixel PNG each at the same moment; the server's peak resident
memory (all its processes, sampled every 20 ms) is printed and the run exits non-zero
above 1 GB.

``--crash``: the observers load the server; it gets SIGKILL the instant an
acknowledgement arrives after ``--kill-after`` seconds, is restarted on the same
database, and the observers resend their unanswered reports (and some acknowledged
ones). Printed: acknowledged reports lost (must be 0), reports stored twice (must be
0), unanswered reports that had been committed anyway, and the restart time.

The per-credential rate limit is raised to 1000/s for the run (a real observer sends
a handful of reports a day; the default limit is 10/s with bursts of 60).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from electwatch.storage.models import AuditEntry, Report

# the development package (load generator, fixtures) is outside src/ and the wheel
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devtools"))
from electwatch_devtools.loadtest import (
    Connection,
    CrashRun,
    Observer,
    ServerProcess,
    crash,
    resend_outbox,
    restart,
    run_load_processes,
)
from electwatch_devtools.testing import (
    load_setup,
    postgres_available,
    throwaway_database,
)


def warm_up(port: int, observers: list[Observer]) -> None:
    async def go() -> None:
        conns = [Connection("127.0.0.1", port) for _ in observers]
        await asyncio.gather(
            *(c.request("GET", "/api/me", o.token) for c, o in zip(conns, observers, strict=True))
        )
        for c in conns:
            c.close()

    asyncio.run(go())


def run_one(
    kind: str,
    observers: int,
    reports: int,
    seconds: float,
    processes: int,
    batch: int | None,
    rate: float | None = None,
    workers: int = 1,
) -> dict[str, object]:
    with throwaway_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        setup = load_setup(url, observers)
        engine, factory, sd, obs = setup.engine, setup.factory, setup.seed, setup.observers
        old = os.environ.get("ELECTWATCH_WRITER_BATCH")
        if batch is not None:
            os.environ["ELECTWATCH_WRITER_BATCH"] = str(batch)
        server = ServerProcess(url, Path(tmp), workers=workers).start()
        if batch is not None:
            if old is None:
                del os.environ["ELECTWATCH_WRITER_BATCH"]
            else:
                os.environ["ELECTWATCH_WRITER_BATCH"] = old
        try:
            per = -(-reports // observers)
            warm_up(server.port, obs)  # each token's scrypt check once, not measured
            cpu0 = server.cpu_seconds()
            res = run_load_processes(
                "127.0.0.1", server.port, sd.election_id, obs, per, seconds, processes, rate
            )
            cpu = server.cpu_seconds() - cpu0
        finally:
            server.stop()
        with factory() as s:
            stored = s.scalar(
                select(func.count()).select_from(Report).where(Report.election_id == sd.election_id)
            )
        engine.dispose()
        out = res.summary()
        out["stored"] = stored
        out["created"] = sum(o.status == 201 for o in res.outcomes)
        # server CPU per request (the client processes' own warm-up GETs included)
        out["server_cpu_ms"] = 1000 * cpu / max(len(res.outcomes) + observers, 1)
        return out


def stored_ids(factory: sessionmaker[Session], election_id: int) -> set[str]:
    with factory() as s:
        return {
            str(r) for r in s.scalars(select(Report.id).where(Report.election_id == election_id))
        }


def crash_run(
    kind: str, observers: int, crashes: int, kill_after: float, workers: int = 1
) -> dict[str, object]:
    """``crashes`` rounds of load, SIGKILL, restart and outbox resend on one database.
    With several workers only one worker is killed (uvicorn starts a new one) and the
    server is not restarted: the outbox is resent to the same, still running server."""
    with throwaway_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        setup = load_setup(url, observers)
        engine, factory, sd, obs = setup.engine, setup.factory, setup.seed, setup.observers
        servers = [ServerProcess(url, Path(tmp), workers=workers).start()]
        run = CrashRun()
        lost = committed_unanswered = unanswered = 0
        codes: Counter[int] = Counter()
        restart_s: list[float] = []
        try:
            for _ in range(crashes):
                if workers > 1:
                    crash(
                        servers[-1], sd.election_id, obs, kill_after, run,
                        kill=servers[-1].kill_one_worker,
                    )  # fmt: skip
                    time.sleep(2.0)  # the supervisor replaces the killed worker
                else:
                    crash(servers[-1], sd.election_id, obs, kill_after, run)
                    t0 = time.perf_counter()
                    servers.append(restart(servers[-1]))
                    restart_s.append(time.perf_counter() - t0)
                before = stored_ids(factory, sd.election_id)
                lost += len(run.acknowledged - before)
                committed_unanswered += len(run.unanswered & before)
                unanswered += len(run.unanswered)
                ids = resend_outbox(servers[-1], sd.election_id, obs, run)
                codes.update(run.resent[rid] for rid in ids)
        finally:
            for s in servers:
                s.stop()
        stored = stored_ids(factory, sd.election_id)
        with factory() as s:
            creates = list(
                s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "report.create"))
            )
        engine.dispose()
        return {
            "sent": len(run.sent),
            "acknowledged": len(run.sent) - unanswered,
            "unanswered": unanswered,
            "lost": lost,
            "stored": len(stored),
            "stored_twice": len(creates) - len(set(creates)),
            "never_stored": len(run.sent.keys() - stored),
            "committed_but_unanswered": committed_unanswered,
            "resend_codes": dict(sorted(codes.items())),
            "restart_s": round(sorted(restart_s)[len(restart_s) // 2], 2) if restart_s else None,
        }


def images_run(kind: str, workers: int, n: int = 6, limit_bytes: int = 1 << 30) -> bool:
    """``n`` observers upload a SYNTHETIC 40-megapixel PNG each at once; the server's
    peak RSS (sum over its processes) must stay under ``limit_bytes``."""
    import io
    import threading
    import uuid

    import httpx
    from PIL import Image

    buf = io.BytesIO()
    # a 40-Mpx image that compresses to a small file: the attack of the audit
    Image.new("RGB", (8000, 5000), (30, 90, 160)).save(buf, "PNG", compress_level=9)
    png = buf.getvalue()
    with throwaway_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        setup = load_setup(url, n)
        sd, obs = setup.seed, setup.observers
        server = ServerProcess(url, Path(tmp), workers=workers).start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            rids = []
            with httpx.Client(base_url=base, timeout=120) as c:
                for o in obs:
                    rid = str(uuid.uuid4())
                    c.post(
                        f"/api/elections/{sd.election_id}/reports",
                        json={"id": rid, "station": o.station, "window_start": "08:00",
                              "window_end": "20:00", "voters": 100},
                        headers={"Authorization": f"Bearer {o.token}"},
                    ).raise_for_status()  # fmt: skip
                    rids.append(rid)
            idle = sum(server.rss_bytes().values())
            peak = [idle]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], sum(server.rss_bytes().values()))
                    time.sleep(0.02)

            codes: list[int] = []
            times: list[float] = []

            def upload(o: Observer, rid: str) -> None:
                t0 = time.perf_counter()
                with httpx.Client(base_url=base, timeout=300) as c:
                    r = c.post(
                        f"/api/reports/{rid}/evidence",
                        files={"file": ("big.png", png, "image/png")},
                        headers={"Authorization": f"Bearer {o.token}"},
                    )
                codes.append(r.status_code)
                times.append(time.perf_counter() - t0)

            sampler = threading.Thread(target=sample)
            sampler.start()
            threads = [threading.Thread(target=upload, args=a) for a in zip(obs, rids, strict=True)]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
        finally:
            server.stop()
        setup.engine.dispose()
    ok = peak[0] < limit_bytes and all(c == 201 for c in codes)
    print(
        f"{kind:10s} {n} concurrent 40-Mpx PNG uploads ({len(png) / 1024:.0f} KB each), "
        f"{workers} worker(s): codes {sorted(codes)}  wall {wall:.1f} s  "
        f"median upload {sorted(times)[len(times) // 2]:.1f} s  server RSS idle "
        f"{idle / 2**20:.0f} MB, peak {peak[0] / 2**20:.0f} MB "
        f"(limit {limit_bytes / 2**20:.0f} MB): {'OK' if ok else 'ABOVE LIMIT / FAILED'}",
        flush=True,
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="64 observers, 20,000 reports")
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--observers", type=int)
    ap.add_argument("--reports", type=int)
    ap.add_argument("--seconds", type=float, help="time limit of the load phase")
    ap.add_argument("--processes", type=int, default=2, help="client processes")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--rate",
        type=float,
        help="open loop: offer this many reports/s (10 s of load unless --reports); "
        "latency counted from when each report was due",
    )
    ap.add_argument("--crash", action="store_true", help="kill -9 mid-load test instead")
    ap.add_argument("--crashes", type=int, default=3, help="--crash: kill/restart rounds")
    ap.add_argument("--kill-after", type=float, default=3.0, help="--crash: seconds of load")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes")
    ap.add_argument("--images", action="store_true", help="6 concurrent 40-Mpx uploads: RSS")
    a = ap.parse_args()
    if a.images:
        kinds = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
        ok = True
        for kind in kinds:
            if kind == "postgresql" and (reason := postgres_available()):
                print(f"{kind}: skipped ({reason})")
                continue
            ok &= images_run(kind, a.workers)
        return 0 if ok else 1
    if a.crash:
        return crash_main(a)
    observers = a.observers or (64 if a.full else 32)
    if a.rate:
        reports = a.reports or round(a.rate * 10)
        seconds = a.seconds or reports / a.rate + 10
    else:
        reports = a.reports or (20_000 if a.full else 3_000)
        seconds = a.seconds or (90.0 if a.full else 20.0)
    kinds = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
    failed = False
    mode = f"open loop at {a.rate:.0f} reports/s offered" if a.rate else "closed loop"
    print(
        f"# {observers} observers, {reports} reports (time limit {seconds:.0f} s), {mode}, "
        f"{a.processes} client processes, server: {a.workers} uvicorn worker(s)"
    )
    for kind in kinds:
        if kind == "postgresql" and (reason := postgres_available()):
            print(f"{kind}: skipped ({reason})")
            continue
        r = run_one(kind, observers, reports, seconds, a.processes, None, a.rate, a.workers)
        line = (
            f"{kind:10s} group commit: {r['reports_per_s']:7.0f} reports/s  "
            f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
            f"acknowledged {r['acknowledged']}  created {r['created']}  "
            f"stored {r['stored']}  codes {r['status_codes']}  "
            f"server CPU {r['server_cpu_ms']:.2f} ms/report"
        )
        print(line, flush=True)
        if r["created"] != r["stored"] or r["acknowledged"] != r["requests"]:
            failed = True
            print(f"  MISMATCH: acknowledged/created/stored differ on {kind}")
        if not a.no_baseline and not a.rate:
            b = run_one(
                kind, observers, max(reports // 3, 500), seconds, a.processes, 1, None, a.workers
            )
            print(
                f"{kind:10s} baseline (1 report/commit): {b['reports_per_s']:7.0f} reports/s  "
                f"p50 {b['p50_ms']:6.1f} ms  p99 {b['p99_ms']:6.1f} ms  "
                f"stored {b['stored']}/{b['created']}  ratio "
                f"{r['reports_per_s'] / b['reports_per_s']:.2f}x",
                flush=True,
            )
            failed |= b["created"] != b["stored"]
    return 1 if failed else 0


def crash_main(a: argparse.Namespace) -> int:
    observers = a.observers or 32
    kinds = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
    print(
        f"# crash test: {observers} observers, {a.workers} worker(s), {a.crashes} x (load "
        f"{a.kill_after:.1f} s, SIGKILL of {'one worker' if a.workers > 1 else 'the server'} "
        "on an acknowledgement, restart, resend the outbox)"
    )
    failed = False
    for kind in kinds:
        if kind == "postgresql" and (reason := postgres_available()):
            print(f"{kind}: skipped ({reason})")
            continue
        r = crash_run(kind, observers, a.crashes, a.kill_after, a.workers)
        print(f"{kind:10s} " + "  ".join(f"{k} {v}" for k, v in r.items()), flush=True)
        if r["lost"] or r["stored_twice"] or r["never_stored"]:
            failed = True
            print(f"  FAILED on {kind}: acknowledged reports lost or stored twice")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
