"""YAML text -> raw plan mapping with exact Decimal numbers and a line/column mark per path.

Built on PyYAML's composer (SafeLoader nodes); values are constructed here, not by PyYAML, so
that no float is ever made, every value keeps where it was written, and dangerous or ambiguous
YAML (aliases, anchors, explicit tags, duplicate keys, `.inf`, hex, YAML 1.1 booleans) is refused
with a plain-words message instead of being silently reinterpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

from planrunner.diagnostics import Diagnostic

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_MAGNITUDE = 30  # decimal exponent bound: no plan needs 1e30, and it keeps arithmetic exact

Path = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based line, column


@dataclass(frozen=True, slots=True)
class Loaded:
    """A parsed document: the raw value tree plus where each value (and each key) was written.

    `hints` holds, per path, advice for a scalar that was kept as text because it only looks
    like a number or boolean in a way we refuse (".inf", "0x1F", "1_000", "yes").
    """

    data: object
    marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    hints: dict[Path, str] = field(default_factory=dict)

    def mark(self, path: Path, *, key: bool = False) -> Mark:
        """Where `path` (its key, with key=True) was written, or its nearest written ancestor."""
        marks = self.key_marks if key else self.marks
        probe = path
        while probe:
            if probe in marks:
                return marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))


class _Refused(Exception):
    """Stops composing: the document uses a YAML feature plans must not use."""

    def __init__(self, message: str, mark: Mark):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(yaml_mark: yaml.Mark | None) -> Mark:
    if yaml_mark is None:
        return (0, 0)
    return (yaml_mark.line + 1, yaml_mark.column + 1)


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses aliases, anchors, explicit tags and deep nesting.

    Refusing at the event level matters: an alias bomb is harmless as a node graph but explodes
    when expanded, and we never want to decide whether a given expansion is "small enough".
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        where = _mark(event.start_mark)
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused("YAML anchors and aliases (&name, *name) are not allowed in a plan; "
                           "write each value out in full", where)
        if getattr(event, "tag", None) is not None:
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Refused(f"explicit YAML tags such as {tag!r} are not allowed in a plan; "
                           "remove the tag", where)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"the document is nested more than {MAX_DEPTH} levels deep; "
                               "a plan is only a few levels deep", where)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# -- scalars ---------------------------------------------------------------------------------

_INT = re.compile(r"^\d+$")
_DECIMAL = re.compile(r"^(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
_SIGNED_NUMBER = re.compile(r"^[-+](\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}
_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(inf|nan)$", re.IGNORECASE)
_OTHER_BASES = re.compile(r"^[-+]?0[xob][0-9a-f_]+$", re.IGNORECASE)
_UNDERSCORED = re.compile(r"^[-+]?[0-9][0-9_]*(\.[0-9_]*)?$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def _odd_scalar_hint(text: str) -> str | None:
    """Advice for text that YAML 1.1 would read as a number or boolean but we keep as text."""
    if _SPECIAL_FLOAT.match(text):
        return "infinity and not-a-number are not allowed; write a finite decimal such as 0.5"
    if _OTHER_BASES.match(text):
        return "hexadecimal, octal and binary numbers are not allowed; write a plain decimal"
    if text.startswith("0") and _INT.match(text) and len(text) > 1:
        return "write the number without leading zeros (YAML may read them as octal)"
    if "_" in text and _UNDERSCORED.match(text):
        return "write the number without underscores, e.g. 1000 rather than 1_000"
    if _SEXAGESIMAL.match(text):
        return "write a plain decimal (YAML 1.1 reads 1:30 as a base-60 number)"
    if text.lower() in _YAML11_BOOLS:
        return f"{text!r} is a YAML 1.1 boolean, not a number; write a number, or true/false"
    if _SIGNED_NUMBER.match(text):
        return f'a signed number is an offset: quote it ("{text}") in a price field, drop the sign elsewhere'
    return None


def _plain_scalar(text: str) -> tuple[object, str | None]:
    """Value of an unquoted scalar, plus a hint when it was kept as text on purpose."""
    if text in _NULLS:
        return None, None
    if text in _BOOLS:
        return _BOOLS[text], None
    if text.startswith("0") and len(text) > 1 and _INT.match(text):
        return text, _odd_scalar_hint(text)
    if _INT.match(text):
        return int(text), None
    if _DECIMAL.match(text):
        return _bounded_decimal(text)
    return text, _odd_scalar_hint(text)


def _bounded_decimal(text: str) -> tuple[object, str | None]:
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return text, None
    if value != 0 and abs(value.adjusted()) > MAX_MAGNITUDE:
        return text, f"the number {text} is out of range; write a plain decimal such as 0.001"
    return value, None


# -- construction ----------------------------------------------------------------------------

class _Builder:
    """Turns a composed node tree into plain dicts/lists/scalars, recording marks as it goes."""

    def __init__(self) -> None:
        self.marks: dict[Path, Mark] = {}
        self.key_marks: dict[Path, Mark] = {}
        self.hints: dict[Path, str] = {}
        self.problems: list[tuple[Mark, str]] = []

    def build(self, node: yaml.Node, path: Path) -> object:
        self.marks[path] = _mark(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.style is not None:  # quoted or block scalar: always text
            return node.value
        value, hint = _plain_scalar(node.value)
        if hint:
            self.hints[path] = hint
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key is None:
                continue
            if key in result:
                first = self.key_marks[path + (key,)]
                self.problems.append((_mark(key_node.start_mark),
                                      f"duplicate key {key!r} (first written at line {first[0]}); "
                                      "keep only one"))
                continue
            self.key_marks[path + (key,)] = _mark(key_node.start_mark)
            result[key] = self.build(value_node, path + (key,))
        return result

    def _key(self, node: yaml.Node) -> str | None:
        if isinstance(node, yaml.ScalarNode):
            return node.value
        self.problems.append((_mark(node.start_mark),
                              "a key must be a plain word such as 'symbol', not a list or mapping"))
        return None


# -- entry points ----------------------------------------------------------------------------

def decode(raw: str | bytes) -> tuple[str | None, str | None, Mark]:
    """(text, None, _) for acceptable input, or (None, problem, mark) for input we refuse."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return None, (f"the file is {size} bytes; plans are limited to {MAX_BYTES // 1024} KiB, "
                      "is this the right file?"), (0, 0)
    if isinstance(raw, bytes):
        if b"\x00" in raw:
            return None, "this looks like a binary file, not a YAML plan", (0, 0)
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            return None, (f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save it as UTF-8"), (line, col)
    if "\x00" in raw:
        return None, "this looks like a binary file, not a YAML plan", (0, 0)
    return raw.removeprefix("\ufeff"), None, (0, 0)


def _diag(filename: str, mark: Mark, message: str) -> Diagnostic:
    return Diagnostic(filename, mark[0], mark[1], message)


def _compose(text: str) -> yaml.Node | None:
    loader = _StrictLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[Mark, str]:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return (line, col), f"the file contains a character YAML does not allow (#x{exc.character:04x})"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        words = " ".join(p for p in (exc.context, exc.problem) if p)
        if "expected a single document" in words:
            return _mark(mark), ("the file holds more than one YAML document (---); "
                                 "a plan file holds exactly one")
        return _mark(mark), f"invalid YAML: {words}"
    return (0, 0), f"invalid YAML: {exc}"  # pragma: no cover - every PyYAML error is marked


def load_text(raw: str | bytes, filename: str) -> tuple[Loaded | None, list[Diagnostic]]:
    """Parse one plan document. Never raises; problems come back as diagnostics."""
    text, problem, where = decode(raw)
    if text is None:
        return None, [_diag(filename, where, problem or "unreadable input")]
    try:
        node = _compose(text)
    except _Refused as exc:
        return None, [_diag(filename, exc.mark, exc.message)]
    except yaml.YAMLError as exc:
        mark, message = _yaml_problem(exc, text)
        return None, [_diag(filename, mark, message)]
    except RecursionError:
        return None, [_diag(filename, (0, 0), "the document is nested too deeply to be a plan")]
    if node is None:
        return None, [_diag(filename, (1, 1), "the file is empty; a plan starts with 'version: 1'")]
    builder = _Builder()
    data = builder.build(node, ())
    diagnostics = [_diag(filename, mark, message) for mark, message in builder.problems]
    return Loaded(data, builder.marks, builder.key_marks, builder.hints), diagnostics
