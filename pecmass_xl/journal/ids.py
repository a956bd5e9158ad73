"""Identifiers pecmass mints itself: campaign ids, `ID invio`, and the Message-IDs built from them.

Receipts are matched by the Message-ID they quote (DESIGN §5.2), so the Message-ID must carry the
campaign, the row and the attempt, and every part must be a dot-atom (RFC 5322 `atext` only): no
quoting, no spaces, nothing a provider could rewrite. `ID invio` is also a folder name, so it uses
upper-case RFC 4648 base32 only (safe on case-insensitive file systems, never read as a number).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Container
from dataclasses import dataclass

BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

ROW_ID_PREFIX = "R"
ROW_ID_LENGTH = 8
CAMPAIGN_ID_PREFIX = "C"
CAMPAIGN_ID_LENGTH = 12
MESSAGE_ID_PREFIX = "pecmass"
TEST_MARKER = "prova"

ROW_ID_RE = re.compile(rf"^{ROW_ID_PREFIX}[{BASE32_ALPHABET}]{{{ROW_ID_LENGTH}}}$")
# Lenient on purpose: a campaign id written by another version may differ in shape, but it must stay
# a single dot-free atom that is also a safe file name.
CAMPAIGN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_DOMAIN_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

_MAX_UNIQUE_TRIES = 1000


def _random_base32(length: int) -> str:
    return "".join(secrets.choice(BASE32_ALPHABET) for _ in range(length))


def new_row_id(taken: Container[str] = ()) -> str:
    """A fresh `ID invio` (`R` + 8 random base32 characters) not present in `taken`.

    40 random bits make a clash within one campaign very unlikely; `taken` (the campaign's ids,
    from the journal and the sheet) makes it impossible.
    """
    for _ in range(_MAX_UNIQUE_TRIES):
        candidate = ROW_ID_PREFIX + _random_base32(ROW_ID_LENGTH)
        if candidate not in taken:
            return candidate
    raise RuntimeError("could not mint a unique row id")  # pragma: no cover - 2**40 space


def is_row_id(value: object) -> bool:
    return isinstance(value, str) and ROW_ID_RE.match(value) is not None


def new_campaign_id() -> str:
    """A fresh campaign id (`C` + 12 random base32 characters): names the journal file."""
    return CAMPAIGN_ID_PREFIX + _random_base32(CAMPAIGN_ID_LENGTH)


def is_campaign_id(value: object) -> bool:
    return isinstance(value, str) and CAMPAIGN_ID_RE.match(value) is not None


def normalise_domain(domain: str) -> str:
    """The sender domain as it goes into a Message-ID: lower-case ASCII (IDNA for non-ASCII names)."""
    cleaned = domain.strip().rstrip(".").lower()
    if not cleaned.isascii():
        cleaned = cleaned.encode("idna").decode("ascii")
    labels = cleaned.split(".")
    if not cleaned or not all(_DOMAIN_LABEL_RE.match(label) for label in labels):
        raise ValueError("not a valid domain for a Message-ID")
    return cleaned


def domain_of(address: str) -> str:
    """The domain part of an e-mail address, normalised for a Message-ID."""
    _, at, domain = address.strip().rpartition("@")
    if not at:
        raise ValueError("not an e-mail address")
    return normalise_domain(domain)


def _check_campaign(campaign_id: str) -> None:
    if not is_campaign_id(campaign_id):
        raise ValueError(f"invalid campaign id {campaign_id!r}")


def build_message_id(campaign_id: str, row_id: str, attempt: int, domain: str) -> str:
    """`<pecmass.{campaign}.{ID invio}.{attempt}@{domain}>` for attempt `attempt` (1, 2, …) of a row."""
    _check_campaign(campaign_id)
    if not is_row_id(row_id):
        raise ValueError(f"invalid row id {row_id!r}")
    if not isinstance(attempt, int) or attempt < 1:
        raise ValueError("attempt numbers start at 1")
    return f"<{MESSAGE_ID_PREFIX}.{campaign_id}.{row_id}.{attempt}@{normalise_domain(domain)}>"


def build_test_message_id(campaign_id: str, number: int, domain: str) -> str:
    """`<pecmass.{campaign}.prova.P{n}@{domain}>` for the n-th test send of a campaign."""
    _check_campaign(campaign_id)
    if not isinstance(number, int) or number < 1:
        raise ValueError("test numbers start at 1")
    return f"<{MESSAGE_ID_PREFIX}.{campaign_id}.{TEST_MARKER}.P{number}@{normalise_domain(domain)}>"


@dataclass(frozen=True)
class ParsedMessageId:
    """What a pecmass Message-ID says. For a test send `row_id` is None and `attempt` is n of `P{n}`."""

    campaign_id: str
    row_id: str | None
    attempt: int
    domain: str
    is_test: bool

    @property
    def message_id(self) -> str:
        """The canonical form (the one pecmass writes), for journal look-ups."""
        if self.is_test:
            return build_test_message_id(self.campaign_id, self.attempt, self.domain)
        assert self.row_id is not None
        return build_message_id(self.campaign_id, self.row_id, self.attempt, self.domain)


_MESSAGE_ID_RE = re.compile(
    rf"^{MESSAGE_ID_PREFIX}\.(?P<campaign>[A-Za-z0-9][A-Za-z0-9_-]{{0,63}})"
    rf"\.(?:(?P<row>{ROW_ID_PREFIX}[{BASE32_ALPHABET}]{{{ROW_ID_LENGTH}}})\.(?P<attempt>[1-9][0-9]{{0,8}})"
    rf"|{TEST_MARKER}\.P(?P<test>[1-9][0-9]{{0,8}}))"
    r"@(?P<domain>[A-Za-z0-9.-]+)$",
    re.IGNORECASE,
)


def parse_message_id(value: str | None) -> ParsedMessageId | None:
    """Read a Message-ID back into campaign, row and attempt; None if pecmass did not write it.

    Lenient about what receipts do to it: surrounding spaces, missing angle brackets, the case of the
    `pecmass`/`prova` markers. Campaign and row ids keep their case (they are compared exactly).
    """
    if not value:
        return None
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    match = _MESSAGE_ID_RE.match(text)
    if not match:
        return None
    domain = match["domain"].lower()
    if match["test"] is not None:
        return ParsedMessageId(match["campaign"], None, int(match["test"]), domain, True)
    row_id = match["row"]
    if not is_row_id(row_id):  # the regex is case-insensitive; row ids are upper-case only
        return None
    return ParsedMessageId(match["campaign"], row_id, int(match["attempt"]), domain, False)
