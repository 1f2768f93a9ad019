"""Shared helpers of the CLI commands: error handling, tables, progress bars, JSON output.

Every command of ``electwatch`` follows the conventions of docs/architecture.md:

- **Errors.** Run the body inside :func:`user_errors` (``main.py`` also wraps every
  registered command with :func:`guard_commands`, so nothing escapes as a traceback).
  An :class:`~electwatch.errors.ElectwatchError` prints as one line, ``error: ...``,
  and exits with code 2; any other exception prints as one line too (its type and
  message) and exits 2, unless the global ``--debug`` option (or ``ELECTWATCH_DEBUG=1``)
  asks for the traceback. User text in messages is printed literally: a file name or
  a claim id such as ``[[claims]]`` is never read as Rich markup.
- **Tables.** Print result tables with :func:`print_table`: a Rich table as usual in a
  terminal of 100 columns or more; below that, one stacked block per row
  (``column: value`` lines), so that an 80-column terminal does not fold a wide table
  into 8-character columns. Build the table as usual (``rich.table.Table`` with
  ``add_column``/``add_row``) and call ``print_table(table)`` instead of
  ``out.print(table)``.
- **Deprecated spellings.** Keep an old option spelling as a hidden option and call
  :func:`deprecated_option` on its value: it prints the warning and returns the value
  to use.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from electwatch.errors import ElectwatchError

console = Console(stderr=True)
out = Console()

#: Below this terminal width :func:`print_table` stacks the rows (issue 11: the
#: forensics table folded into 8-character columns, 622 lines, at 80 columns).
STACK_BELOW_COLUMNS = 100


class _DebugState:
    """Whether ``--debug`` was given (set by the root callback in ``cli/main.py``)."""

    enabled: bool = os.environ.get("ELECTWATCH_DEBUG", "") not in ("", "0")


debug_state = _DebugState()


def set_debug(enabled: bool) -> None:
    debug_state.enabled = enabled or os.environ.get("ELECTWATCH_DEBUG", "") not in ("", "0")


def print_error(message: str, *, label: str = "error") -> None:
    """One line on stderr, ``error: <message>``; the message is printed literally."""
    line = Text.assemble((f"{label}:", "bold red"), " ", message)
    console.print(line, highlight=False, soft_wrap=True)


def print_warning(message: str) -> None:
    """One line on stderr, ``warning: <message>``; the message is printed literally."""
    console.print(
        Text.assemble(("warning:", "yellow"), " ", message), highlight=False, soft_wrap=True
    )


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every exception into a one-line message and exit code 2.

    The project's own errors (:class:`ElectwatchError`) print their message; anything
    else prints its type and message with a hint at ``--debug``, which re-raises it
    so that the traceback (and a post-mortem debugger) is available. Typer's own
    exits, aborts and usage errors pass through untouched.
    """
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        # Typer's own exits and usage errors (BadParameter is a TyperException)
        raise
    except ElectwatchError as exc:
        if debug_state.enabled:
            raise
        print_error(str(exc))
        raise typer.Exit(code=2) from None
    except Exception as exc:
        if debug_state.enabled:
            raise
        # one line: an unexpected failure is a bug or an environment problem, and
        # the user needs to know which, not 40 lines of frames
        detail = str(exc).replace("\n", " ").strip()
        kind = type(exc).__name__
        print_error(
            f"unexpected {kind}{': ' + detail if detail else ''} "
            "(run `electwatch --debug ...` for the traceback)"
        )
        raise typer.Exit(code=2) from None


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(callback: F) -> F:
    if getattr(callback, "_electwatch_guarded", False):
        return callback

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return callback(*args, **kwargs)

    wrapper._electwatch_guarded = True  # type: ignore[attr-defined]  # marker attribute on a function
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature Typer reads


def guard_commands(app: typer.Typer) -> None:
    """Run every command (and group callback) of ``app`` inside :func:`user_errors`.

    Typer reads a command's parameters from ``inspect.signature``, which follows the
    ``__wrapped__`` that :func:`functools.wraps` sets, so the options are unchanged.
    """
    for command in app.registered_commands:
        if command.callback is not None:
            command.callback = _guarded(command.callback)
    if app.registered_callback is not None and app.registered_callback.callback is not None:
        app.registered_callback.callback = _guarded(app.registered_callback.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_commands(group.typer_instance)


def deprecated_option(value: Any, old: str, new: str) -> Any:
    """Warn that ``old`` is a deprecated spelling of ``new`` when it was given.

    Declare the old spelling as a hidden option defaulting to ``None``::

        fi_old: float | None = typer.Option(None, "--fi", hidden=True)
        ...
        fraction = deprecated_option(fi_old, "--fi", "--incremental-fraud") or fraction
    """
    if value is not None and value is not False:
        print_warning(f"{old} is deprecated and will be removed; use {new}")
    return value


def _as_text(cell: RenderableType, style: str = "") -> Text:
    """A table cell as Text: strings are Rich markup (as ``Table.add_row`` reads them)."""
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, str):
        return Text.from_markup(cell, style=style)
    return Text(str(cell), style=style)


def stacked_rows(table: Table, width: int = 80) -> Group:
    """The rows of ``table`` as stacked blocks of ``column: value`` fields.

    Short fields share a line (two spaces apart) while it stays within ``width``; a
    field too long for that gets a line of its own and wraps. A cell's own line
    breaks become ``" · "``. Empty cells are left out (a table's blank "same as above"
    cells carry no information). A table without a header (``show_header=False``,
    a key/value table) prints each row as ``first cell: other cells``.
    """
    headers = [str(column.header) for column in table.columns]
    columns = [list(column.cells) for column in table.columns]
    n_rows = max((len(cells) for cells in columns), default=0)
    parts: list[RenderableType] = []
    if table.title:
        parts.append(_as_text(table.title, style="bold"))
    for i in range(n_rows):
        cells = [_as_text(column[i]) if i < len(column) else Text("") for column in columns]
        if not table.show_header:
            label, *rest = cells
            line = label.copy()
            values = [c for c in rest if c.plain.strip()]
            if values:
                line.append(": ", style="dim")
                line.append_text(Text(" ").join(values))
            parts.append(line)
            continue
        fields = []
        for header, cell in zip(headers, cells, strict=True):
            if not cell.plain.strip():
                continue
            field = Text(f"{header}: ", style="dim") if header else Text()
            field.append_text(Text(" · ").join(cell.split("\n")))
            fields.append(field)
        lines: list[Text] = []
        for field in fields:
            if lines and lines[-1].cell_len + 2 + field.cell_len <= width:
                lines[-1].append("  ")
                lines[-1].append_text(field)
            else:
                lines.append(field)
        if i:
            parts.append(Text(""))  # a blank line between rows
        parts.extend(lines)
    if table.caption:
        parts.append(Text(""))
        parts.append(_as_text(table.caption, style="dim"))
    return Group(*parts)


def print_table(table: Table, console_: Console | None = None) -> None:
    """Print a result table that fits the terminal.

    At :data:`STACK_BELOW_COLUMNS` columns or more it is the Rich table itself; in a
    narrower terminal every row becomes a block of ``column: value`` fields.
    """
    target = console_ or out
    if target.width >= STACK_BELOW_COLUMNS:
        target.print(table)
    else:
        target.print(stacked_rows(table, target.width))


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Callable[[str, float], None]]:
    """A Rich progress bar driven by ``callback(step_name, fraction_done)``."""
    if quiet:
        yield lambda step, fraction: None
        return
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=1.0)

        def update(step: str, fraction: float) -> None:
            progress.update(task, description=escape(step), completed=max(0.0, min(1.0, fraction)))

        yield update
        progress.update(task, completed=1.0)


def print_json(data: Any) -> None:
    """Machine output on stdout (``--json``): nothing else goes to stdout then."""
    out.print_json(json.dumps(data, default=str, ensure_ascii=False))


__all__ = [
    "STACK_BELOW_COLUMNS",
    "console",
    "deprecated_option",
    "guard_commands",
    "out",
    "print_error",
    "print_json",
    "print_table",
    "print_warning",
    "progress_bar",
    "set_debug",
    "stacked_rows",
    "user_errors",
]
