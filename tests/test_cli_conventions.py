"""Every registered ``electwatch`` command follows the CLI conventions.

docs/architecture.md, "CLI conventions (every command)": ``-o/--out`` is the output
folder or file, ``-m/--mapping`` the column mapping, ``--json`` machine output on
stdout, ``-q/--quiet``; everything else is spelled out in full; an old spelling stays
one release as a hidden, deprecated alias that warns. The commands are found by
walking the Click command tree that Typer builds from ``electwatch.cli.main.app``, so a
new command is checked as soon as it is registered.

Commands that do not comply yet, with who brings them in line, are listed in
``KNOWN_VIOLATORS``; each is a strict xfail (when fixed it XPASSes, which fails: then
delete its entry). Any other violation fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from electwatch.cli.main import app

#: the only short options, and what each one means
SHORT_OPTIONS = {"-o": "--out", "-m": "--mapping", "-q": "--quiet"}
#: long names shorter than four letters are abbreviations (``--mc``, ``--fi``) unless
#: listed here: whole words, and ``--db``, the database URL (also ``ELECTWATCH_DB``),
#: as in SQLAlchemy's and Alembic's tools
SHORT_LONG_NAMES_ALLOWED = {"--out", "--end", "--db", "--geo", "--t0"}
# (--geo is a whole word; --t0 is the reference turnout's name in Shpilkin's method)
#: commands that write files: they take ``-o/--out``
WRITES_FILES = {"demo", "forensics", "report", "simulate election", "simulate observers"}
#: commands that print results: they take ``--json`` and ``-q/--quiet``; listings take
#: ``--json`` only (there is nothing to keep quiet about)
LISTINGS = {"mappings", "mappings list", "claims list"}
#: commands that print no result: the server, and the intake service's administration
#: (one confirmation line each; the service's own API is the machine interface)
NO_RESULT_OUTPUT = {
    "serve",
    "serve init-db",
    "serve create-election",
    "serve create-user",
    "serve assign",
    "serve coordinate",
    "serve new-key",  # prints a new secret key for the operator's key file, nothing else
    "serve rotate-key",
}

#: command -> (what is wrong, who fixes it). Strict xfails, see the docstring.
KNOWN_VIOLATORS: dict[str, tuple[str, str]] = {}


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(space-separated command path, Click command) for every command and group."""
    if path:
        yield " ".join(path), command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = dict(walk(typer.main.get_command(app)))


def options(command: Any) -> list[Any]:
    return [p for p in command.params if getattr(p, "opts", None) and p.param_type_name == "option"]


def violations(name: str, command: Any) -> list[str]:
    found = []
    visible = [o for o in options(command) if not o.hidden]
    by_long = {}
    for option in visible:
        names = [*option.opts, *option.secondary_opts]
        longs = [n for n in names if n.startswith("--")]
        for short in (n for n in names if not n.startswith("--")):
            if short not in SHORT_OPTIONS:
                found.append(f"short option {short} (only -o, -m, -q are allowed)")
            elif SHORT_OPTIONS[short] not in longs:
                found.append(f"{short} means {'/'.join(longs)}, not {SHORT_OPTIONS[short]}")
        for long in longs:
            by_long[long] = option
            bare = long.removeprefix("--no-").removeprefix("--")
            if len(bare) < 4 and long not in SHORT_LONG_NAMES_ALLOWED:
                found.append(f"{long} is not spelled out")
            if bare in {"output", "output-dir", "out-dir", "outdir", "dest", "destination"}:
                found.append(f"{long}: the output option is --out")
    if "--json" in by_long and not by_long["--json"].is_flag:
        found.append("--json is not a flag")
    if "--quiet" in by_long and not by_long["--quiet"].is_flag:
        found.append("--quiet is not a flag")
    if name in WRITES_FILES and "--out" not in by_long:
        found.append("writes files but has no -o/--out")
    if "--mapping" in by_long and "-m" not in by_long["--mapping"].opts:
        found.append("--mapping without -m")
    if "--out" in by_long and "-o" not in by_long["--out"].opts:
        found.append("--out without -o")
    is_group = hasattr(command, "commands") and command.commands
    if name not in NO_RESULT_OUTPUT and not is_group:
        if "--json" not in by_long:
            found.append("prints results but has no --json")
        if name not in LISTINGS and "--quiet" not in by_long:
            found.append("prints results but has no -q/--quiet")
    return found


def test_the_walk_finds_every_command():
    for expected in ("validate", "forensics", "estimate", "report", "claims check", "serve"):
        assert expected in COMMANDS
    assert "simulate election" in COMMANDS and "simulate observers" in COMMANDS
    # every command the conventions name is a real one, so the sets cannot go stale
    named = WRITES_FILES | LISTINGS | NO_RESULT_OUTPUT | set(KNOWN_VIOLATORS)
    assert named <= set(COMMANDS), named - set(COMMANDS)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True, reason=f"{KNOWN_VIOLATORS[name][0]}: {KNOWN_VIOLATORS[name][1]}"
            ),
        )
        if name in KNOWN_VIOLATORS
        else name
        for name in sorted(COMMANDS)
    ],
)
def test_command_follows_the_conventions(name):
    problems = violations(name, COMMANDS[name])
    assert not problems, f"electwatch {name}: " + "; ".join(problems)


def test_the_checker_catches_each_kind_of_violation():
    @typer.Typer().command()
    def bad(
        observations: Path = typer.Option(None, "--observations", "-o"),
        frame: Path = typer.Option(None, "--frame", "-f"),
        mc: int = typer.Option(1, "--mc"),
        output: Path = typer.Option(None, "--output"),
    ) -> None: ...

    sub = typer.Typer()
    sub.command("bad")(bad)
    command = typer.main.get_command(sub)
    problems = " | ".join(violations("demo", command))
    assert "-o means --observations" in problems
    assert "short option -f" in problems
    assert "--mc is not spelled out" in problems
    assert "the output option is --out" in problems
    assert "writes files but has no -o/--out" in problems
    assert "no --json" in problems and "no -q/--quiet" in problems


def test_deprecated_aliases_are_hidden():
    # the old spellings of simulate election stay, hidden from --help
    command = COMMANDS["simulate election"]
    hidden = {o.opts[0] for o in options(command) if o.hidden}
    assert {"--fi", "--fe", "--alpha"} <= hidden
