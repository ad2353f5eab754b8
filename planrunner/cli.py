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
@click.argument("plans", nargs=-1, required=True, type=click.Path())
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


@main.command()
@click.argument("plan_path", metavar="PLAN")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text for people; json (docs/plan-json.md) for programs.")
@click.option("--out", metavar="FILE", default=None,
              help="Also save the plan to FILE; `apply FILE` then places exactly these orders.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.")
@click.option("--verify", is_flag=True,
              help="Also have the exchange validate every order (POST /api/v3/order/test); "
                   "nothing is placed.")
def plan(plan_path: str, output_format: str, out: str | None, detailed_exitcode: bool,
         verify: bool = False) -> None:
    """Show the orders PLAN would place and cancel, its strategy and its risk. Sends nothing.

    With a state file, it first reconciles with the exchange (in memory) and shows only what is
    left to do, what changed outside planrunner, and how an edited plan differs."""
    from planrunner.commands.plan import PlanOptions
    _plan(PlanOptions(plan_path=plan_path, output_format=output_format, out=out,
                      detailed_exitcode=detailed_exitcode, verify=verify,
                      color=_use_color(sys.stdout)))


def _plan(options) -> None:
    from planrunner.commands.plan import existing_state, run_plan
    console = _ClickConsole()
    try:
        state = existing_state(options.plan_path, options.state_path, console)
    except PlanrunnerError as exc:
        _fail(str(exc))
    sys.exit(run_plan(options, console, state))


class _ClickConsole:
    def out(self, text: str) -> None:
        click.echo(text)

    def err(self, text: str) -> None:
        click.echo(text, err=True)

    def confirm(self, prompt: str) -> bool:
        return click.prompt(prompt, default="", show_default=False).strip() == "yes"


def _hooks_factory(json_events: bool):
    from planrunner.progress import JsonProgress, TextProgress
    if json_events:
        return lambda: JsonProgress(sys.stdout)
    return lambda: TextProgress(sys.stdout, live=sys.stdout.isatty())


def _interrupted(what: str) -> None:
    click.echo(f"\nInterrupted. {what}", err=True)
    sys.exit(130)


@main.command()
@click.argument("target", metavar="PLAN|SAVED_PLAN")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only show what would be done (same as `plan`).")
@click.option("--follow", is_flag=True,
              help="On a real exchange, stay until the plan ends instead of returning once the "
                   "exchange enforces everything left.")
@click.option("--state", "state_path", default=None, metavar="FILE",
              help="State file (default: beside the plan, <plan>.state.json).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one event per line (docs/apply-events.md).")
@click.option("--speed", default=None, metavar="X",
              help="Paper only: market seconds per wall second  [default: 7200].")
def apply(target: str, yes: bool, dry_run: bool, follow: bool, state_path: str | None,
          output_format: str, speed: str | None) -> None:
    """Place PLAN's orders and follow it; resumable, exactly once. Ctrl-C is always safe."""
    if dry_run:
        _dry_run(target, state_path, output_format)
    from planrunner.commands.apply import ApplyOptions, run_apply
    options = ApplyOptions(
        target=target, state_path=state_path, yes=yes, follow=follow,
        json_events=output_format == "json", speed=_speed(speed),
        interactive=sys.stdin.isatty() and sys.stdout.isatty(), color=_use_color(sys.stdout))
    _guarded(lambda: run_apply(options, _ClickConsole(), _hooks_factory(options.json_events)),
             "The state is saved and every order placed stays on the exchange; run the same "
             "apply again to resume.")


def _guarded(command, on_interrupt: str) -> None:
    """Run a workflow; every planrunner error becomes a clear message and exit 1, Ctrl-C 130."""
    try:
        code = command()
    except PlanError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(diagnostic.render(), err=True)
        sys.exit(1)
    except PlanrunnerError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _interrupted(on_interrupt)
    sys.exit(code)


def _dry_run(target: str, state_path: str | None, output_format: str) -> None:
    """`apply --dry-run` is `plan` (with the state, so client ids and the diff match)."""
    from planrunner.commands.plan import PlanOptions
    _plan(PlanOptions(plan_path=target, output_format=output_format, state_path=state_path,
                      color=_use_color(sys.stdout)))


def _speed(text: str | None):
    from decimal import Decimal, InvalidOperation
    if text is None:
        return Decimal(7200)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        _fail(f"--speed must be a number of market seconds per wall second (>= 0), not {text!r}")
    return value


@main.command()
@click.argument("plan_path", metavar="[PLAN]", required=False)
@click.option("--state", "state_path", default=None, metavar="FILE", help="State file to read.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--refresh", is_flag=True,
              help="First bring the state up to date from the exchange (under the lock) and "
                   "show what changed outside planrunner.")
def status(plan_path: str | None, state_path: str | None, output_format: str,
           refresh: bool) -> None:
    """Steps, orders, fills, position and P&L of a plan (all plans here without PLAN)."""
    from pathlib import Path

    from planrunner.commands import status as st
    try:
        if plan_path is None and state_path is None:
            click.echo(st.status_all(Path.cwd()))
            return
        doc, state = st.status_document(plan_path, state_path, refresh=refresh)
    except PlanrunnerError as exc:
        _fail(str(exc))
    if output_format == "json":
        import json
        click.echo(json.dumps(st.to_json(doc), sort_keys=True, indent=2))
    else:
        click.echo("\n".join([st.render(doc), *st.drift_lines(state)]))


@main.command()
@click.argument("plan_path", metavar="PLAN")
@click.option("--close", is_flag=True, help="Also exit the position at market.")
@click.option("--state", "state_path", default=None, metavar="FILE", help="State file.")
def cancel(plan_path: str, close: bool, state_path: str | None) -> None:
    """Cancel PLAN's open orders on the exchange (--close: and sell what it bought)."""
    from planrunner.commands.cancel import run_cancel
    _guarded(lambda: run_cancel(plan_path, state_path, close, _ClickConsole(),
                                _hooks_factory(False)),
             "The state is saved; run cancel again to finish.")


@main.command("force-unlock")
@click.argument("plan_path", metavar="PLAN")
@click.option("--state", "state_path", default=None, metavar="FILE", help="State file.")
def force_unlock(plan_path: str, state_path: str | None) -> None:
    """Remove the state lock left by a process that died. Make sure it is really gone."""
    from planrunner.commands.apply import state_store_for
    try:
        holder = state_store_for(plan_path, state_path).force_unlock()
    except PlanrunnerError as exc:
        _fail(str(exc))
    click.echo("No lock was held." if holder is None
               else f"Removed the lock held by {holder.describe()}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback).")
@click.option("--port", default=0, type=int, help="Port; 0 picks a free one.  [default: 0]")
@click.option("--prices", "prices", multiple=True, metavar="FILE",
              help="Kline CSV file(s) in the data.binance.vision format to replay.")
@click.option("--speed", default="0", show_default=True,
              help="Market seconds per wall second; 0 moves prices only through /sim/price.")
@click.option("--balance", "balances", multiple=True, metavar="ASSET=AMOUNT",
              help="Starting balance, repeatable (default: the paper account's).")
@click.option("--api-key", default=None, help="API key to accept (generated and printed if absent).")
@click.option("--api-secret", default=None, help="HMAC secret to accept (generated if absent).")
@click.option("--ed25519-public-key", "ed25519_public_key", default=None, metavar="FILE",
              help="PEM public key: the API key is an Ed25519 key (no --api-secret).")
def sim(host: str, port: int, prices: tuple[str, ...], speed: str, balances: tuple[str, ...],
        api_key: str | None, api_secret: str | None, ed25519_public_key: str | None) -> None:
    """Serve a local Binance-compatible Spot REST API on loopback (prints its base URL first)."""
    from planrunner.sim.server import SimOptions, run_simulator

    try:
        options = SimOptions.from_cli(host=host, port=port, prices=prices, speed=speed,
                                      balances=balances, api_key=api_key, api_secret=api_secret,
                                      ed25519_public_key=ed25519_public_key)
        run_simulator(options, out=sys.stdout)
    except PlanrunnerError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
