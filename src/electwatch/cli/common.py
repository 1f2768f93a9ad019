"""Shared helpers of the CLI commands: error handling, progress bars, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from electwatch.errors import ElectwatchError

console = Console(stderr=True)
out = Console()


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's own errors into a one-line message and exit code 2."""
    try:
        yield
    except ElectwatchError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


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
            progress.update(task, description=step, completed=max(0.0, min(1.0, fraction)))

        yield update
        progress.update(task, completed=1.0)


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str, ensure_ascii=False))
