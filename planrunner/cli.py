"""Command-line interface: the composition root. Parses options, wires the pieces, prints.

No business logic lives here. Imports of heavy modules happen inside commands so that
`planrunner --help` and `planrunner validate` stay fast.
"""

from __future__ import annotations

import os
import sys

import click

from planrunner import __version__
from planrunner.errors import PlanError, PlanrunnerError


def _use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="planrunner")
def main() -> None:
    """Declarative trade plans for Binance Spot: validate, plan, apply."""


@main.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(plans: tuple[str, ...]) -> None:
    """Check plan files; print every problem as FILE:LINE:COLUMN: error: MESSAGE."""
    from planrunner.plan import check_file

    failed = False
    for path in plans:
        _, diagnostics = check_file(path)
        for diagnostic in diagnostics:
            click.echo(diagnostic.render(), err=diagnostic.severity == "error")
        if any(d.severity == "error" for d in diagnostics):
            failed = True
        else:
            click.echo(f"{path}: valid")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
