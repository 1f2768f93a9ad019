"""Benchmark: the live estimate (issue 13), the library call and the analyst page's shell.

1. ``turnout.estimate_live`` on a SYNTHETIC live day: a frame of 60,000 stations,
   2,000 stations reporting (a fifth of them for part of the day), 300 more known
   from tally-mode snapshots (so the arrival profile is estimated and every SE is a
   bootstrap SE over 1,000 replicates), protocols from 1,500 stations. Baseline in
   the same process: the bare estimators the page used to call (one
   ``ratio_estimate`` for turnout with the profile taken as uniform, one linearised
   ``quick_count``), i.e. what the extra work (profile fit, every estimator, its
   bootstrap) costs.
2. The service shell (``web.live_estimate.live_for_election``) on a SYNTHETIC SQLite
   database of 2,000 stations with 1,200 reports: a cold page load (read + compute)
   against a warm one (data-version queries + cache hit).

Peak memory (tracemalloc) of each. Run:
    PYTHONPATH=src:devtools python benchmarks/bench_live.py
"""

from __future__ import annotations

import sys
import tracemalloc
import uuid
from typing import Any

import numpy as np
import polars as pl
from _util import median_time

from electwatch.turnout import StationFrame, estimate_live, quick_count, ratio_estimate


def peak_mb(fn: Any) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def live_day(seed: int = 3) -> tuple[StationFrame, list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    big_n = 60_000
    reg = rng.integers(200, 2500, big_n)
    cast = rng.binomial(reg, rng.uniform(0.4, 0.8, big_n))
    ids = np.array([f"st{i}" for i in range(big_n)])
    frame = StationFrame(pl.DataFrame({"station_id": ids, "registered": reg}))
    rows = rng.choice(big_n, 2_300, replace=False)
    profile = np.full(12, 1 / 12)
    records = []
    for j, i in enumerate(rows[:2_000]):
        end = 20 if j % 5 else int(rng.integers(12, 19))
        v = int(rng.binomial(cast[i], profile[: end - 8].sum()))
        rec: dict[str, Any] = {
            "station_id": ids[i], "observer_id": f"o{j}", "window_start": "08:00",
            "window_end": f"{end:02d}:00", "voters": v,
        }  # fmt: skip
        if j < 1_500:
            n = int(cast[i])
            a, b, c = rng.multinomial(n, [0.47, 0.38, 0.11, 0.04])[:3]
            rec["outcomes"] = {"A": int(a), "B": int(b), "C": int(c), "blank": int(n - a - b - c)}
        records.append(rec)
    snaps = []
    for j, i in enumerate(rows[2_000:]):
        cum = np.cumsum(rng.multinomial(int(cast[i]), profile))
        for h in (2, 5, 8, 12):
            snaps.append(
                {"station_id": ids[i], "observer_id": f"t{j}", "counted_since": "08:00",
                 "time": f"{8 + h:02d}:00", "cumulative": int(cum[h - 1])}
            )  # fmt: skip
    return frame, records, snaps


def bench_library() -> None:
    frame, records, snaps = live_day()
    reg = dict(frame.frame.select("station_id", "registered").iter_rows())

    def live() -> Any:
        return estimate_live(records, frame, snapshots=snaps, polls=(8, 20), n_resamples=1000)

    def bare() -> Any:
        # what the page called before: the uniform profile, one ratio, one quick count
        share = np.array([(int(r["window_end"][:2]) - 8) / 12 for r in records])
        y = np.array([r["voters"] for r in records]) / share
        x = np.array([reg[r["station_id"]] for r in records], dtype=float)
        ratio_estimate(y, x, float(frame.frame["registered"].sum()), frame.n_stations)
        prot = [r["outcomes"] for r in records if "outcomes" in r]
        names = ["A", "B", "C", "blank"]
        m = np.array([[p[k] for k in names] for p in prot], dtype=float)
        return quick_count(m, names, total_stations=frame.n_stations)

    est = live()
    t_live, _ = median_time(live, repeat=5)
    t_bare, _ = median_time(bare, repeat=7)
    print(
        f"estimate_live, 60,000-station frame, 2,000 counts + 300 snapshot stations, "
        f"1,500 protocols, 1,000 resamples: median {t_live * 1e3:8.1f} ms; "
        f"bare estimators (baseline) {t_bare * 1e3:.1f} ms (ratio {t_live / t_bare:.0f}x); "
        f"peak {peak_mb(live):.0f} MB (baseline {peak_mb(bare):.0f} MB)"
    )
    print(
        f"  estimator {est.estimator}, profile {est.profile_source}, "
        f"turnout {est.turnout.estimate:.4f} +/- {est.turnout.standard_error:.4f}, "
        f"exclusions {est.exclusions}, P(leader > 50%) {est.p_leader_majority:.3f}"
    )


def bench_shell() -> None:
    from electwatch_devtools.testing import seed, throwaway_database
    from sqlalchemy import select

    from electwatch.storage import credentials
    from electwatch.storage.db import make_engine, session_factory, upgrade
    from electwatch.storage.models import Election, Report, Station, User
    from electwatch.web import live_estimate as shell

    credentials.SCRYPT_N = 2**10
    rng = np.random.default_rng(4)
    with throwaway_database("sqlite") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        sd = seed(factory, n_stations=2_000)
        with factory() as s, s.begin():
            obs_id = s.scalar(select(User.id).where(User.role == "observer"))
            stations = s.execute(
                select(Station.id, Station.registered).where(Station.election_id == sd.election_id)
            ).all()
            for sid, reg in [stations[i] for i in rng.choice(len(stations), 1_200, False)]:
                v = int(0.6 * (reg or 500))
                a = int(0.5 * v)
                s.add(
                    Report(
                        id=uuid.uuid4(), election_id=sd.election_id, station_id=sid,
                        observer_id=obs_id, window_start=8 * 60, window_end=20 * 60,
                        voters=v, outcomes={"A": a, "B": v - a - 10, "blank": 10},
                        status="submitted",
                    )
                )  # fmt: skip

        def cold() -> Any:
            shell.clear_cache()
            with factory() as s:
                return shell.live_for_election(s, s.get(Election, sd.election_id), 5, 0.05)

        def warm() -> Any:
            with factory() as s:
                return shell.live_for_election(s, s.get(Election, sd.election_id), 5, 0.05)

        res = cold()
        t_cold, _ = median_time(cold, repeat=5)
        t_warm, _ = median_time(warm, repeat=21)
        print(
            f"analyst page shell, SQLite, 2,000 stations, 1,200 reports: cold (read + "
            f"compute) median {t_cold * 1e3:8.1f} ms; warm (data version + cache hit) "
            f"{t_warm * 1e3:.1f} ms (ratio {t_cold / t_warm:.0f}x); peak cold "
            f"{peak_mb(cold):.0f} MB, warm {peak_mb(warm):.1f} MB; estimator "
            f"{res.live.estimator}, n_observed {res.live.n_observed}"
        )
        engine.dispose()


def main() -> int:
    bench_library()
    bench_shell()
    return 0


if __name__ == "__main__":
    sys.exit(main())
