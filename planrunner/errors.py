"""The whole exception tree. Adapters raise only these; each keeps the venue's code and message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from planrunner.diagnostics import Diagnostic


class PlanrunnerError(Exception):
    """Base of every error planrunner raises on purpose. The message says what to do next."""


class PlanError(PlanrunnerError):
    """A plan file is invalid. Carries every diagnostic found, not only the first."""

    def __init__(self, diagnostics: Sequence["Diagnostic"]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class CompileError(PlanrunnerError):
    """A valid plan that cannot be placed on this market (filters, order types, rounding)."""


class StateError(PlanrunnerError):
    """The state file cannot be used as it is."""


class StateLocked(StateError):
    """Another process holds the state lock."""


class StateCorrupt(StateError):
    """The state file is unreadable, truncated, from a newer format or for another plan."""


class StalePlan(StateError):
    """A saved plan no longer matches the state it was made against."""


class ExchangeError(PlanrunnerError):
    """An exchange call failed. `code` and `venue_message` keep what the venue said."""

    def __init__(self, message: str, *, code: int | None = None, venue_message: str | None = None,
                 http_status: int | None = None):
        self.code = code
        self.venue_message = venue_message
        self.http_status = http_status
        super().__init__(message)


class TransientError(ExchangeError):
    """Nothing happened on the exchange; an idempotent call may be retried."""


class RateLimited(TransientError):
    """429 / 418. `retry_after` is in seconds; `banned` is True for a 418 IP ban."""

    def __init__(self, message: str, *, retry_after: float | None = None, banned: bool = False, **kw):
        self.retry_after = retry_after
        self.banned = banned
        super().__init__(message, **kw)


class OutcomeUnknown(ExchangeError):
    """The request may have executed. Reconcile by client order id; never re-send blindly."""


class OrderRejected(ExchangeError):
    """The exchange refused the order definitively; nothing was created."""


class InsufficientFunds(OrderRejected):
    """The account balance does not cover the order."""


class OrderNotFound(ExchangeError):
    """No order with that id exists on the exchange."""


class AuthError(ExchangeError):
    """Keys missing, wrong, or without the permission for this action."""
