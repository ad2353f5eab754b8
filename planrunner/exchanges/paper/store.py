"""The paper account's own JSON file: where it lives, atomic saves, and refusing bad files.

The file holds the matching engine's complete state, the feed's position (market time, one cursor
per symbol) and the description of the feeds in use, so a later run continues the same market.
It lives at `.paper/account.json` under the current directory unless PLANRUNNER_PAPER_DIR (or an
explicit path) says otherwise. A file that cannot be read back is refused, never overwritten: the
user decides whether to keep it for inspection or start over.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

from planrunner.atomic import write_atomically
from planrunner.errors import StateCorrupt, StateError

FORMAT_VERSION = 1
PAPER_DIR_ENV = "PLANRUNNER_PAPER_DIR"
DEFAULT_PAPER_DIR = ".paper"
ACCOUNT_FILE = "account.json"
_KEYS = ("engine", "feed_position", "feed_spec")


def default_account_path(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """$PLANRUNNER_PAPER_DIR/account.json, else <cwd>/.paper/account.json."""
    environ = os.environ if env is None else env
    folder = environ.get(PAPER_DIR_ENV) or ""
    base = Path(folder).expanduser() if folder.strip() else (cwd or Path.cwd()) / DEFAULT_PAPER_DIR
    return base / ACCOUNT_FILE


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """What one save holds. Values are JSON-ready; Decimals are written as strings."""

    engine: Mapping[str, Any]
    feed_position: Mapping[str, Any]
    feed_spec: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "engine": self.engine,
                "feed_position": self.feed_position, "feed_spec": self.feed_spec}


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the paper account")


def _exact_number(text: str) -> Decimal:
    return Decimal(text)  # a float in the file is read exactly, never as binary floating point



class PaperStore:
    """Load and atomically save the paper account file.

    `replace` is the os.replace seam: tests inject a failing one to prove a crash before the
    rename leaves the previous file intact.
    """

    def __init__(self, path: Path | str, *, replace: Callable[[str, str], None] = os.replace):
        self.path = Path(path)
        self._replace = replace

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> AccountRecord | None:
        """None when there is no account yet. Raises StateCorrupt for anything unreadable."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read the paper account {self.path}: {exc.strerror}") from None
        return self._parse(raw)

    def _parse(self, raw: bytes) -> AccountRecord:
        try:
            data = json.loads(raw.decode("utf-8"), parse_float=_exact_number)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.corrupt(f"it is not valid JSON ({exc}); it may be truncated") from None
        except (RecursionError, ValueError) as exc:  # absurd nesting; a 5000-digit number
            raise self.corrupt(f"it is not a paper account ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise self.corrupt("it does not hold a JSON object")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise self.corrupt(f"its format_version is {version!r}, this planrunner reads "
                               f"{FORMAT_VERSION}")
        missing = [k for k in _KEYS if not isinstance(data.get(k), dict)]
        if missing:
            raise self.corrupt(f"it lacks {', '.join(missing)}")
        return AccountRecord(data["engine"], data["feed_position"], data["feed_spec"])

    def corrupt(self, reason: str) -> StateCorrupt:
        """The refusal for an unusable account file; the file itself is left untouched."""
        return StateCorrupt(
            f"the paper account {self.path} cannot be used: {reason}. It was left untouched; "
            f"move it aside (or delete it) to start a new paper account, or set {PAPER_DIR_ENV} "
            "to use another folder.")

    def save(self, record: AccountRecord) -> None:
        """Atomic and 0600 (planrunner.atomic): a crash leaves the old account or the new one."""
        text = json.dumps(record.to_dict(), sort_keys=True, indent=1, default=_json_default)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(self.path, text.encode("utf-8") + b"\n", replace=self._replace)
