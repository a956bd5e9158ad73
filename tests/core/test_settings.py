"""Impostazioni: missing and invalid settings (`row: null`, `column` = the label), presets and overrides."""

from __future__ import annotations

import json

import pytest

from pecmass_xl.campaign.settings import resolve_settings
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.read import read_workbook

from .books import REAL_PROVIDER, problems_with

REAL_ROW = [["mario.rossi@pec.esempio.it", "Mario", "Rossi", None]]


def _settings(path):
    sheet = read_workbook(path)
    return resolve_settings(sheet.settings, sheet.message, sheet.folder)


@pytest.mark.parametrize("label, value, words", [
    (c.SET_MAILBOX, "studio.pec.it", ["«studio.pec.it» non è un indirizzo PEC valido"]),
    (c.SET_PROVIDER, "Pippo", ["Gestore «Pippo» sconosciuto", "Aruba, Legalmail, Poste, Namirial, Register, Sandbox, Personalizzato"]),
    (c.SET_SMTP_PORT, "porta", ["«porta» non è valido", "tra 1 e 65535"]),
    (c.SET_SMTP_PORT, 70000, ["«70000» non è valido"]),
    (c.SET_SMTP_PORT, 0, ["«0» non è valido"]),
    (c.SET_IMAP_PORT, 993.5, ["«993.5» non è valido"]),
    (c.SET_SMTP_SECURITY, "nessuna", ["«nessuna» non è valido", "SSL/TLS o STARTTLS"]),
    (c.SET_IMAP_SECURITY, "TLS", ["«TLS» non è valido"]),
    (c.SET_PACE, -1, ["«-1» non è valido", "tra 0 e 100000"]),
    (c.SET_PACE, "tanti", ["«tanti» non è valido"]),
    (c.SET_MAX_SIZE, "abc", ["«abc» non è una dimensione valida in MB"]),
    (c.SET_MAX_SIZE, 0, ["«0» non è una dimensione valida in MB"]),
    (c.SET_MAX_SIZE, -5, ["«-5» non è una dimensione valida in MB"]),
    (c.SET_TEST_RECIPIENT, "prova@", ["«prova@» non è un indirizzo valido"]),
    (c.SET_CA_FILE, "certificati/ca.pem", ["«certificati/ca.pem» non esiste"]),
    (c.SET_IDENTICAL_WINDOW, "un mese", ["«un mese» non è valido", "tra 0 e 36500"]),
    (c.SET_IDENTICAL_WINDOW, -1, ["«-1» non è valido"]),
])
def test_invalid_setting(label, value, words, make_book, check, cli):
    path = make_book(settings={label: value})
    rc, found, doc = check(path)
    assert rc == 1
    hits = problems_with(doc, "setting_invalid")
    assert [(p["row"], p["column"]) for p in hits] == [(None, label)]
    for word in words:
        assert word in hits[0]["message"]
    # the JSON says `"row": null` and the label as the column
    raw = cli("check", path, "--json").out
    assert json.loads(raw)["problems"][0]["row"] is None
    assert f'"column": "{label}"' in raw and '"row": null' in raw


def test_invalid_receipt_type(make_book, check):
    rc, found, doc = check(make_book(message={c.MSG_RECEIPT_TYPE: "lunga"}))
    assert (rc, found) == (1, [("setting_invalid", None, c.MSG_RECEIPT_TYPE)])
    assert "completa, breve o sintetica" in doc["problems"][0]["message"]


@pytest.mark.parametrize("value, port", [(587, 587), ("587", 587), (587.0, 587), ("  25 ", 25)])
def test_valid_port_forms(value, port, make_book):
    settings, problems = _settings(make_book(settings={c.SET_SMTP_PORT: value}))
    assert problems == [] and settings.smtp_port == port


def test_identical_pec_window_defaults_to_30_days(make_book):
    settings, problems = _settings(make_book())
    assert problems == [] and settings.identical_window_days == 30
    settings, problems = _settings(make_book(name="b.xlsx", settings={c.SET_IDENTICAL_WINDOW: "90"}))
    assert problems == [] and settings.identical_window_days == 90


def test_missing_mailbox(make_book, check):
    rc, found, doc = check(make_book(settings={c.SET_MAILBOX: None}))
    assert (rc, found) == (1, [("setting_missing", None, c.SET_MAILBOX)])


def test_custom_provider_needs_both_servers(make_book, check):
    settings = {c.SET_PROVIDER: "Personalizzato", c.SET_MAILBOX: "studio@pec.esempio.it"}
    rc, found, _ = check(make_book(rows=REAL_ROW, settings=settings))
    assert (rc, found) == (1, [("setting_missing", None, c.SET_SMTP_HOST), ("setting_missing", None, c.SET_IMAP_HOST)])


def test_empty_provider_means_custom(make_book, check):
    rc, found, _ = check(make_book(rows=REAL_ROW, settings={**REAL_PROVIDER, c.SET_PROVIDER: None}))
    assert (rc, found) == (0, [])


def test_uncertain_preset_values_are_warnings_until_filled(make_book, check):
    settings = {c.SET_PROVIDER: "Poste", c.SET_MAILBOX: "studio@postecert.it"}
    rc, found, _ = check(make_book(rows=REAL_ROW, settings=settings))
    assert rc == 0
    assert found == [("setting_uncertain", None, label) for label in
                     (c.SET_SMTP_HOST, c.SET_IMAP_HOST, c.SET_PACE, c.SET_MAX_SIZE)]
    filled = {**settings, c.SET_SMTP_HOST: "smtp.x.it", c.SET_IMAP_HOST: "imap.x.it", c.SET_PACE: 5, c.SET_MAX_SIZE: 30}
    assert check(make_book(name="b.xlsx", rows=REAL_ROW, settings=filled))[:2] == (0, [])


def test_register_has_no_servers(make_book, check):
    rc, found, _ = check(make_book(rows=REAL_ROW, settings={c.SET_PROVIDER: "Register", c.SET_MAILBOX: "a@pec.esempio.it"}))
    assert rc == 1
    assert ("setting_missing", None, c.SET_SMTP_HOST) in found
    assert ("setting_uncertain", None, c.SET_SMTP_HOST) in found


def test_legalmail_notice_is_a_warning(make_book, check):
    settings = {c.SET_PROVIDER: "Legalmail", c.SET_MAILBOX: "studio@legalmail.it", c.SET_MAX_SIZE: 50}
    rc, found, doc = check(make_book(rows=REAL_ROW, settings=settings))
    assert (rc, found) == (0, [("provider_notice", None, c.SET_PROVIDER)])
    assert "6 messaggi al minuto" in doc["problems"][0]["message"]


def test_preset_values_and_overrides(make_book):
    aruba = {c.SET_PROVIDER: "Aruba", c.SET_MAILBOX: "studio@pec.esempio.it"}
    settings, _ = _settings(make_book(settings=aruba))
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("smtps.pec.aruba.it", 465, "SSL/TLS")
    assert (settings.imap_host, settings.imap_port, settings.pace_per_minute, settings.max_size_mb) == (
        "imaps.pec.aruba.it", 993, 10, 100.0)
    assert settings.receipt_folders == ["INBOX"]
    overrides = {**aruba, c.SET_SMTP_HOST: "smtp.altro.it", c.SET_SMTP_PORT: 587, c.SET_SMTP_SECURITY: "starttls",
                 c.SET_PACE: 0, c.SET_MAX_SIZE: "25,5", c.SET_RECEIPT_FOLDERS: "INBOX; Ricevute ;",
                 c.SET_USER: "codice123", c.SET_ARCHIVE_FOLDER: "archivio"}
    path = make_book(name="b.xlsx", settings=overrides)
    settings, problems = _settings(path)
    assert problems == []
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("smtp.altro.it", 587, "STARTTLS")
    assert (settings.pace_per_minute, settings.max_size_mb, settings.login) == (0, 25.5, "codice123")
    assert settings.receipt_folders == ["INBOX", "Ricevute"]
    assert settings.archive_folder == path.parent / "archivio"


def test_legalmail_preset(make_book):
    settings, problems = _settings(make_book(settings={c.SET_PROVIDER: "legalmail", c.SET_MAILBOX: "a@legalmail.it"}))
    assert settings.provider == "Legalmail" and settings.pace_per_minute == 6
    assert [p.code for p in problems] == ["setting_uncertain", "provider_notice"]


def test_sandbox_reads_its_connection_file(make_book, tmp_path, monkeypatch):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "connessione.json").write_text(json.dumps({
        "smtp_host": "127.0.0.1", "smtp_port": 10465, "imap_host": "127.0.0.1", "imap_port": 10993,
        "password": "sandbox", "ca_file": str(sandbox / "ca.pem")}), encoding="utf-8")
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(sandbox))
    settings, problems = _settings(make_book())
    assert problems == []
    assert (settings.smtp_host, settings.smtp_port, settings.imap_port) == ("127.0.0.1", 10465, 10993)
    assert settings.sandbox_password == "sandbox" and settings.ca_file == sandbox / "ca.pem"
    assert settings.pace_per_minute == 0


def test_ca_file_from_the_environment_wins(make_book, tmp_path, monkeypatch):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    monkeypatch.setenv("PECMASS_CA_FILE", str(ca))
    settings, problems = _settings(make_book(settings={c.SET_CA_FILE: "manca.pem"}))
    assert problems == [] and settings.ca_file == ca


def test_ca_file_relative_to_the_workbook(make_book, tmp_path):
    (tmp_path / "ca.pem").write_text("x", encoding="ascii")
    settings, problems = _settings(make_book(settings={c.SET_CA_FILE: "ca.pem"}))
    assert problems == [] and settings.ca_file == tmp_path / "ca.pem"


def test_duplicate_label_first_value_wins(make_book, check, cli):
    def twice(wb):
        wb[c.SHEET_SETTINGS].append([c.SET_MAILBOX, "altro@pec.test"])
    path = make_book(edit=twice)
    rc, found, doc = check(path)
    assert (rc, found) == (0, [("label_duplicate", None, c.SET_MAILBOX)])
    assert "Impostazioni" in doc["problems"][0]["message"]
    settings, _ = _settings(path)
    assert settings.mailbox == "mittente@pec.sandbox.test"


def test_labels_are_read_by_label_not_by_position(make_book, check, cli):
    """Moving rows around in Impostazioni changes nothing."""
    def shuffle(wb):
        ws = wb[c.SHEET_SETTINGS]
        ws.insert_rows(4, 5)
        ws["A4"], ws["B4"] = "  Casella PEC  ", "spostata@pec.test"
        for row in ws.iter_rows(min_row=9):
            if row[0].value == c.SET_MAILBOX:
                row[1].value = None
    path = make_book(edit=shuffle)
    assert check(path)[:2] == (0, [])
    settings, _ = _settings(path)
    assert settings.mailbox == "spostata@pec.test"
