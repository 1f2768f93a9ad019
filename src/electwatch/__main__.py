"""``python -m electwatch`` runs the command-line interface."""

from electwatch.cli.main import app

app()
