"""``electwatch claims``: the claims ledger (thin shell over electwatch.claims)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from electwatch.cli.common import deprecated_option, out, print_json, print_table, user_errors

_STYLE = {
    "ok": "green",
    "consistent": "green",
    "mismatch": "bold red",
    "conflict": "bold red",
    "unverifiable": "dim",
}


def register(app: typer.Typer) -> None:
    claims_app = typer.Typer(help="Claims ledger: check published figures.", no_args_is_help=True)
    app.add_typer(claims_app, name="claims")

    @claims_app.command("list")
    def list_claims(
        file: Path = typer.Argument(..., help="Claims TOML file."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List the claims of a ledger."""
        from electwatch.claims import load_claims

        with user_errors():
            ledger = load_claims(file)
        if as_json:
            print_json(ledger.to_dict())
            return
        t = Table(title=f"Claims in {file}")
        for col in ("id", "source", "date", "quantity", "value", "method"):
            t.add_column(col)
        for c in ledger:
            t.add_row(
                c.id,
                c.source,
                c.date or "",
                c.quantity,
                ("" if c.relation == "=" else c.relation + " ") + c.stated.text,
                c.method or "",
            )
        print_table(t)

    @claims_app.command("check")
    def check(
        file: Path = typer.Argument(..., help="Claims TOML file."),
        results: Path | None = typer.Option(
            None, "--results", help="Official results to hold the claims against."
        ),
        results_short: Path | None = typer.Option(None, "-r", hidden=True),  # deprecated
        estimate_short: list[Path] | None = typer.Option(None, "-e", hidden=True),  # deprecated
        mapping: str | None = typer.Option(None, "--mapping", "-m"),
        estimate: list[Path] | None = typer.Option(
            None,
            "--estimate",
            help="JSON from `electwatch estimate --json` (repeatable).",
        ),
        subject: str | None = typer.Option(
            None, help="Subject the estimates/results are about (prefix of claims' subject)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Print nothing; the exit code tells (with --strict)."
        ),
        strict: bool = typer.Option(
            False, help="Exit with code 1 if any check is a mismatch or conflict."
        ),
    ) -> None:
        """Check each claim's arithmetic; hold claims against each other, estimates, results."""
        from electwatch.claims import check_ledger, claims_table_rows, load_claims
        from electwatch.claims.ledger import (
            check_against_results,
            estimates_from_json,
            official_figures,
        )

        if results_short is not None:
            results = deprecated_option(results_short, "-r", "--results")
        if estimate_short:
            estimate = [*(estimate or []), *deprecated_option(estimate_short, "-e", "--estimate")]
        with user_errors():
            ledger = load_claims(file)
            res = None
            if results is not None:
                from electwatch.data import load_results

                res = load_results(results, mapping)
            ests = {}
            for path in estimate or []:
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise typer.BadParameter(f"{path}: {exc}") from None
                ests.update(estimates_from_json(data, prefix=path.stem))
            excluded: dict[str, str] = {}
            if res is not None and subject is None:
                # claims about this election only, each against its own area (and round)
                scoped = check_against_results(ledger, res, estimates=ests or None)
                report, excluded = scoped.report, scoped.excluded
            else:
                official = official_figures(res.summary()) if res is not None else None
                label = f"official results ({results.name})" if results is not None else ""
                report = check_ledger(
                    ledger, estimates=ests, official=official, official_label=label,
                    subject=subject,
                )  # fmt: skip
        if as_json:
            print_json({**report.to_dict(), "excluded": excluded})
        elif not quiet:
            t = Table(title=escape(f"Claims ledger: {file}"))
            for col in ("claim", "check", "status", "stated", "reference", "against", "detail"):
                t.add_column(col, overflow="fold")
            for row in claims_table_rows(report):
                style = _STYLE.get(row[2], "")
                t.add_row(
                    escape(row[0]), escape(row[1]), f"[{style}]{row[2]}[/]", *map(escape, row[3:])
                )
            print_table(t)
            counts = report.counts()
            out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
            for cid, why in excluded.items():
                out.print(f"not checked: {escape(cid)} {escape(why)}")
        if strict and report.failed:
            raise typer.Exit(code=1)
