"""`cnx`, the command line of CloudNexus (typer and rich are imported here only)."""

from __future__ import annotations

from cloudnexus_client.cli import browse, transfers
from cloudnexus_client.cli.app import app

__all__ = ["app", "browse", "main", "transfers"]


def main() -> None:
    app()
