"""The CLI's shared error handling and width-adaptive tables (electwatch.cli.common)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

import electwatch.data
from electwatch.cli import common
from electwatch.cli.main import app
from electwatch.errors import DataValidationError, ElectwatchError


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("ELECTWATCH_DEBUG", raising=False)
    common.set_debug(False)
    yield
    common.set_debug(False)


def _fail_with(monkeypatch, exc: BaseException) -> None:
    def load_results(*args, **kwargs):
        raise exc

    monkeypatch.setattr(electwatch.data, "load_results", load_results)


def test_user_error_message_is_printed_literally(monkeypatch):
    # "[[claims]]" and "[bold]" are Rich markup; the user must see them as written
    _fail_with(monkeypatch, ElectwatchError("x.toml: expected a [[claims]] table, not [bold]"))
    res = CliRunner().invoke(app, ["validate", "x.csv"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "error: x.toml: expected a [[claims]] table, not [bold]" in res.output
    assert "Traceback" not in res.output


def test_data_error_keeps_file_row_and_column(monkeypatch):
    err = DataValidationError("r[1].csv", "not a count", row=7, column="votes [A]", value="x")
    _fail_with(monkeypatch, err)
    res = CliRunner().invoke(app, ["validate", "x.csv"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "r[1].csv, row 7, column 'votes [A]': not a count (value 'x')" in res.output


def test_unexpected_exception_is_one_line_with_exit_2(monkeypatch):
    _fail_with(monkeypatch, RuntimeError("disk [full]\nsecond line"))
    res = CliRunner().invoke(app, ["validate", "x.csv"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: unexpected RuntimeError: disk [full] second line")
    assert "--debug" in lines[0]


def test_debug_shows_the_traceback(monkeypatch):
    _fail_with(monkeypatch, RuntimeError("disk full"))
    res = CliRunner().invoke(app, ["--debug", "validate", "x.csv"])
    # --debug re-raises: the runner catches the original exception with its traceback
    assert isinstance(res.exception, RuntimeError)
    assert res.exc_info is not None and res.exc_info[2] is not None


def test_debug_from_the_environment(monkeypatch):
    _fail_with(monkeypatch, RuntimeError("disk full"))
    res = CliRunner().invoke(app, ["validate", "x.csv"], env={"ELECTWATCH_DEBUG": "1"})
    assert isinstance(res.exception, RuntimeError)


def test_plugin_commands_are_guarded_too():
    # guard_commands wraps every registered command, the plugins' included
    for command in app.registered_commands:
        assert getattr(command.callback, "_electwatch_guarded", False), command.name
    for group in app.registered_groups:
        for command in group.typer_instance.registered_commands:
            assert getattr(command.callback, "_electwatch_guarded", False), command.name


def test_usage_errors_still_come_from_typer(tmp_path):
    res = CliRunner().invoke(
        app, ["simulate", "observers", str(tmp_path / "x.csv"), "--design", "bogus"]
    )
    assert res.exit_code == 2
    assert "Invalid value for --design" in res.output
    assert "unexpected" not in res.output


def _wide_table() -> Table:
    table = Table(title="Forensics [SYNTHETIC]")
    for name in ("test", "level", "areas", "statistic vs null", "p / 95% CI", "flagged"):
        table.add_column(name)
    table.add_column("reading")
    table.add_row(
        "last digit uniformity",
        "national",
        "1",
        "0.512 vs 0.450",
        "p < 0.001\n0.48 – 0.55",
        "[bold red]1[/]",
        "too many zeros among the last digits of the vote counts",
    )
    table.add_row("", "region", "20", "median 0.45", "", "0 / 20", "no area flagged")
    return table


def _render(width: int) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None)
    common.print_table(_wide_table(), console)
    return buffer.getvalue()


def test_narrow_terminal_stacks_the_rows():
    text = _render(80)
    assert "│" not in text  # no table borders: one block per row
    lines = text.splitlines()
    # fields share a line while it fits in 80 columns; cell line breaks become " · "
    assert "test: last digit uniformity  level: national  areas: 1" in lines
    assert "statistic vs null: 0.512 vs 0.450  p / 95% CI: p < 0.001 · 0.48 – 0.55" in lines
    assert "flagged: 1  reading: too many zeros among the last digits of the vote counts" in lines
    # the second row's empty cells are left out; rows are separated by a blank line
    assert "level: region  areas: 20  statistic vs null: median 0.45  flagged: 0 / 20" in lines
    assert "" in lines and "test: " not in text.replace("test: last", "")
    assert lines[0] == "Forensics [SYNTHETIC]"  # title printed literally
    assert max(len(line) for line in lines) <= 80


def test_wide_terminal_keeps_the_table():
    text = _render(140)
    assert "│" in text or "┃" in text
    assert "last digit uniformity" in text
    assert common.STACK_BELOW_COLUMNS == 100
    assert "│" in _render(100) and "│" not in _render(99)


def test_key_value_table_stacks_as_key_value_lines():
    table = Table(show_header=False)
    table.add_row("stations", "3,000")
    table.add_row("data", "[bold yellow]SYNTHETIC[/]")
    buffer = io.StringIO()
    common.print_table(table, Console(file=buffer, width=60, color_system=None))
    assert buffer.getvalue().splitlines() == ["stations: 3,000", "data: SYNTHETIC"]


def test_deprecated_alias_warns_and_still_works(tmp_path):
    out = tmp_path / "sim.csv"
    args = ["simulate", "election", "--stations", "400", "-o", str(out), "--json"]
    res = CliRunner().invoke(app, [*args, "--fi", "0.25"])
    assert res.exit_code == 0, res.output
    assert "--fi is deprecated" in res.stderr
    new = CliRunner().invoke(app, [*args, "--incremental-fraud", "0.25"])
    assert new.exit_code == 0
    assert "deprecated" not in new.stderr
    # the alias and the new spelling give the same simulation
    assert res.stdout == new.stdout
