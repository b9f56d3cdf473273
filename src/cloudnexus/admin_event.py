"""`{"cloudnexus": ["workspace", "create", "acme"]}`: the CLI's admin commands run by invoking
the deployed function, so an operator needs no host inside the VPC. Who may invoke the
function is decided by IAM (`lambda:InvokeFunction`); API Gateway's events never take this
path (they always carry a requestContext and go to the app)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

# The commands an invocation may run: making workspaces and keys, migrations, maintenance.
ADMIN_COMMANDS = frozenset({"workspace", "key", "migrate", "maintenance"})


def is_admin_command(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("cloudnexus"), list)


def run_admin_command(arguments: list[Any]) -> dict[str, Any]:
    """Run `cloudnexus ARGUMENTS...` in this process: its exit status and what it printed."""
    import typer

    from cloudnexus.cli import app

    if not arguments or not all(isinstance(argument, str) for argument in arguments):
        return _refused("'cloudnexus' must be a list of strings: a command and its arguments")
    if arguments[0] not in ADMIN_COMMANDS:
        return _refused(f"'{arguments[0]}' cannot be invoked; one of: "
                        f"{', '.join(sorted(ADMIN_COMMANDS))}")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            # Outside standalone mode click returns an Exit's status instead of raising it.
            status = typer.main.get_command(app).main(arguments, prog_name="cloudnexus",
                                                      standalone_mode=False)
            exit_code = status if isinstance(status, int) else 0
        except typer.exceptions.TyperException as exc:  # a usage error (click's, as typer ships it)
            show = getattr(exc, "show", None)
            if show is not None:
                show()  # as the shell would
            exit_code = int(getattr(exc, "exit_code", 1))
    return {"exit_code": exit_code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def _refused(message: str) -> dict[str, Any]:
    return {"error": {"code": "bad_request", "message": message}}
