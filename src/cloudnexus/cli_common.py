"""What the commands of `cloudnexus` (cli.py) and its admin groups (admin_cli.py) share."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from cloudnexus.config import ConfigError, Settings, load_settings

err_console = Console(stderr=True)


def settings_or_exit(**overrides: object) -> Settings:
    """Load the settings; a bad value prints its one line and exits 2."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def fail(message: str) -> NoReturn:
    """End the command with one line on standard error and exit status 1."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
