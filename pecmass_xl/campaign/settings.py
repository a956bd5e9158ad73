"""The campaign's settings: the `Impostazioni` cells the user filled, over the provider preset."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.campaign.addresses import is_valid_address
from pecmass_xl.campaign.presets import CUSTOM, PRESET_NAMES, SANDBOX, Preset, find_preset
from pecmass_xl.campaign.problems import Problem, problem
from pecmass_xl.core.paths import default_sandbox_dir
from pecmass_xl.workbook import contract as c


@dataclass
class Settings:
    mailbox: str = ""
    user: str = ""
    provider: str = ""
    preset: Preset | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "SSL/TLS"
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: str = "SSL/TLS"
    pace_per_minute: int = 10
    test_recipient: str = ""
    receipt_folders: list[str] = field(default_factory=lambda: ["INBOX"])
    archive_folder: Path | None = None
    max_size_mb: float = 30.0
    ca_file: Path | None = None
    address_column: str = c.DEFAULT_ADDRESS_HEADER
    save_sent_copy: bool = False
    receipt_type: str = "completa"
    sandbox_dir: Path | None = None
    sandbox_password: str | None = None
    sandbox_clock: dict | None = None  # the sandbox's published clock (connessione.json), if any
    attachment_folders: list[Path] = field(default_factory=list)  # besides the workbook's own folder
    identical_window_days: int = c.DEFAULT_IDENTICAL_WINDOW_DAYS

    @property
    def is_sandbox(self) -> bool:
        return self.provider == SANDBOX

    @property
    def login(self) -> str:
        return self.user or self.mailbox

    @property
    def sender_domain(self) -> str:
        return self.mailbox.rpartition("@")[2] or "localhost"

    @property
    def max_size_bytes(self) -> int:
        return int(self.max_size_mb * 1_000_000)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_sandbox_connection(directory: Path) -> dict | None:
    """The sandbox's `connessione.json`, or None when no sandbox ran there yet."""
    try:
        return json.loads((directory / "connessione.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _int_setting(raw: object, label: str, minimum: int, maximum: int, problems: list[Problem]) -> int | None:
    text = _text(raw)
    if not text:
        return None
    try:
        number = int(float(text.replace(",", ".")))
    except ValueError:
        number = None
    if number is None or not (minimum <= number <= maximum) or float(text.replace(",", ".")) != number:
        problems.append(problem("setting_invalid", f"«{text}» non è valido: serve un numero intero tra {minimum} e {maximum}.", column=label))
        return None
    return number


def _security(raw: object, label: str, default: str, problems: list[Problem]) -> str:
    text = _text(raw)
    if not text:
        return default
    for mode in c.SECURITY_MODES:
        if text.upper().replace(" ", "") == mode.upper():
            return mode
    problems.append(problem("setting_invalid", f"«{text}» non è valido: scegliete SSL/TLS o STARTTLS (mai connessioni in chiaro).", column=label))
    return default


def resolve_settings(values: dict[str, object], message: dict[str, object], workbook_folder: Path) -> tuple[Settings, list[Problem]]:
    """Merge the filled cells over the preset and validate them; problems have `row: None`."""
    problems: list[Problem] = []
    s = Settings()
    s.provider = _text(values.get(c.SET_PROVIDER)) or CUSTOM
    s.preset = find_preset(s.provider)
    if s.preset is None:
        problems.append(problem("setting_invalid", f"Gestore «{s.provider}» sconosciuto: scegliete tra {', '.join(PRESET_NAMES)}.", column=c.SET_PROVIDER))
        s.preset = find_preset(CUSTOM)
    s.provider = s.preset.name
    p = s.preset

    s.mailbox = _text(values.get(c.SET_MAILBOX))
    if not s.mailbox:
        problems.append(problem("setting_missing", "Indicate l'indirizzo PEC del mittente.", column=c.SET_MAILBOX))
    elif not is_valid_address(s.mailbox):
        problems.append(problem("setting_invalid", f"«{s.mailbox}» non è un indirizzo PEC valido.", column=c.SET_MAILBOX))
    s.user = _text(values.get(c.SET_USER))

    s.smtp_host = _text(values.get(c.SET_SMTP_HOST)) or p.smtp_host
    s.imap_host = _text(values.get(c.SET_IMAP_HOST)) or p.imap_host
    s.smtp_port = _int_setting(values.get(c.SET_SMTP_PORT), c.SET_SMTP_PORT, 1, 65535, problems) or p.smtp_port
    s.imap_port = _int_setting(values.get(c.SET_IMAP_PORT), c.SET_IMAP_PORT, 1, 65535, problems) or p.imap_port
    s.smtp_security = _security(values.get(c.SET_SMTP_SECURITY), c.SET_SMTP_SECURITY, p.smtp_security, problems)
    s.imap_security = _security(values.get(c.SET_IMAP_SECURITY), c.SET_IMAP_SECURITY, p.imap_security, problems)

    if s.is_sandbox:
        s.sandbox_dir = default_sandbox_dir()
        connection = read_sandbox_connection(s.sandbox_dir)
        if connection:
            s.smtp_host = _text(values.get(c.SET_SMTP_HOST)) or connection.get("smtp_host")
            s.imap_host = _text(values.get(c.SET_IMAP_HOST)) or connection.get("imap_host")
            s.smtp_port = s.smtp_port if _text(values.get(c.SET_SMTP_PORT)) else connection.get("smtp_port")
            s.imap_port = s.imap_port if _text(values.get(c.SET_IMAP_PORT)) else connection.get("imap_port")
            s.sandbox_password = connection.get("password")
            s.sandbox_clock = connection.get("clock") if isinstance(connection.get("clock"), dict) else None
            if connection.get("ca_file"):
                s.ca_file = Path(connection["ca_file"])
    else:
        for label, value in ((c.SET_SMTP_HOST, s.smtp_host), (c.SET_IMAP_HOST, s.imap_host)):
            if not value:
                problems.append(problem("setting_missing", "Indicate il server: il gestore scelto non lo fornisce.", column=label))
        for label in p.uncertain:
            if not _text(values.get(label)):
                problems.append(problem("setting_uncertain", f"Il valore predefinito di {p.name} per «{label}» non è confermato: verificatelo presso il gestore.", column=label))
        if p.notice:
            problems.append(problem("provider_notice", p.notice, column=c.SET_PROVIDER))

    pace = _int_setting(values.get(c.SET_PACE), c.SET_PACE, 0, 100_000, problems)
    s.pace_per_minute = p.pace_per_minute if pace is None else pace

    window = _int_setting(values.get(c.SET_IDENTICAL_WINDOW), c.SET_IDENTICAL_WINDOW, 0, 36_500, problems)
    s.identical_window_days = c.DEFAULT_IDENTICAL_WINDOW_DAYS if window is None else window

    max_size_text = _text(values.get(c.SET_MAX_SIZE))
    s.max_size_mb = p.max_size_mb
    if max_size_text:
        try:
            s.max_size_mb = float(max_size_text.replace(",", "."))
            if s.max_size_mb <= 0:
                raise ValueError
        except ValueError:
            problems.append(problem("setting_invalid", f"«{max_size_text}» non è una dimensione valida in MB.", column=c.SET_MAX_SIZE))
            s.max_size_mb = p.max_size_mb

    s.test_recipient = _text(values.get(c.SET_TEST_RECIPIENT))
    if s.test_recipient and not is_valid_address(s.test_recipient):
        problems.append(problem("setting_invalid", f"«{s.test_recipient}» non è un indirizzo valido.", column=c.SET_TEST_RECIPIENT))
    folders = [f.strip() for f in _text(values.get(c.SET_RECEIPT_FOLDERS)).split(";") if f.strip()]
    s.receipt_folders = folders or list(p.receipt_folders)
    archive = _text(values.get(c.SET_ARCHIVE_FOLDER))
    s.archive_folder = (workbook_folder / archive) if archive else None
    s.address_column = _text(values.get(c.SET_ADDRESS_COLUMN)) or c.DEFAULT_ADDRESS_HEADER
    s.save_sent_copy = _text(values.get(c.SET_SAVE_SENT_COPY)).lower() in ("sì", "si", "yes", "true", "1", "vero")

    for folder in (f.strip() for f in _text(values.get(c.SET_ATTACHMENT_FOLDERS)).split(";")):
        if folder:
            path = Path(folder) if Path(folder).is_absolute() else workbook_folder / folder
            if path.is_dir():
                s.attachment_folders.append(path)
            else:
                problems.append(problem("setting_invalid", f"La cartella «{folder}» non esiste.", column=c.SET_ATTACHMENT_FOLDERS))

    ca_env = os.environ.get("PECMASS_CA_FILE")
    ca_text = _text(values.get(c.SET_CA_FILE))
    if ca_env:
        s.ca_file = Path(ca_env)
    elif ca_text:
        s.ca_file = workbook_folder / ca_text
        if not s.ca_file.is_file():
            problems.append(problem("setting_invalid", f"Il file dei certificati «{ca_text}» non esiste.", column=c.SET_CA_FILE))

    receipt_type = _text(message.get(c.MSG_RECEIPT_TYPE)).lower() or "completa"
    if receipt_type not in c.RECEIPT_TYPES:
        problems.append(problem("setting_invalid", f"«{receipt_type}» non è valido: scegliete completa, breve o sintetica.", column=c.MSG_RECEIPT_TYPE))
        receipt_type = "completa"
    s.receipt_type = receipt_type
    return s, problems
