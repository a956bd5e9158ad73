"""Which keyring holds the password (issue 11 part 7): always said; a plain-file backend such as
keyrings.alt's (base64 in a file) is refused unless the user opts in, and never called "di sistema"."""

from __future__ import annotations

import base64
import io

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from pecmass_xl.campaign.settings import resolve_settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.mailclient import credentials
from pecmass_xl.workbook.read import read_workbook

from .books import REAL_PROVIDER

SECRET = "s3greta-di-prova"


@pytest.fixture
def plain_file(tmp_path):
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    yield tmp_path / "keyring_pass.cfg"
    keyring.set_keyring(previous)


@pytest.fixture
def settings(make_book):
    sheet = read_workbook(make_book(settings=REAL_PROVIDER))
    return resolve_settings(sheet.settings, sheet.message, sheet.folder)[0]


def test_a_plain_file_keyring_is_refused_without_opting_in(plain_file, settings):
    with pytest.raises(CannotRun) as raised:
        credentials.store_password(settings, SECRET)
    message = str(raised.value)
    assert "NON cifrato" in message and "PECMASS_ALLOW_PLAINTEXT_KEYRING=1" in message and "di sistema (" not in message
    assert not plain_file.exists() or base64.b64encode(SECRET.encode()) not in plain_file.read_bytes()


def test_opting_in_stores_it_and_says_where(plain_file, settings, monkeypatch):
    monkeypatch.setenv("PECMASS_ALLOW_PLAINTEXT_KEYRING", "1")
    where = credentials.store_password(settings, SECRET)
    assert where.startswith("in un file NON cifrato di keyrings") and str(plain_file) in where
    assert "di sistema" not in where
    assert base64.b64encode(SECRET.encode()) in plain_file.read_bytes()  # what "not encrypted" means
    assert credentials.get_password(settings) == SECRET


def _terminal(monkeypatch, password):
    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": password)


def test_login_command_refuses_then_accepts_with_the_flag(plain_file, make_book, cli, monkeypatch):
    path = make_book(settings=REAL_PROVIDER)
    _terminal(monkeypatch, SECRET)
    refused = cli("login", path)
    assert refused.rc == 2 and "NON cifrato" in refused.err and "--allow-plaintext-keyring" in refused.err
    stored = cli("login", path, "--allow-plaintext-keyring")
    assert stored.rc == 0
    assert "Password salvata in un file NON cifrato di keyrings" in stored.out and "di sistema" not in stored.out


def test_the_hint_without_any_keyring_says_what_keyrings_alt_is(settings):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(CannotRun) as raised:
            credentials.get_password(settings)
    finally:
        keyring.set_keyring(previous)
    assert "keyrings.alt NON è un portachiavi di sistema" in str(raised.value) and "in chiaro" in str(raised.value)


@pytest.mark.parametrize("module, name, words", [
    ("keyring.backends.Windows", "WinVaultKeyring", "nel portachiavi di sistema (Gestione credenziali di Windows)"),
    ("keyring.backends.macOS", "Keyring", "nel portachiavi di sistema (Portachiavi di macOS)"),
    ("keyring.backends.SecretService", "Keyring", "nel portachiavi di sistema (Secret Service"),
    ("keyrings.alt.file", "EncryptedKeyring", "nel file cifrato di keyrings"),
    ("altro.modulo", "Keyring", "non riconosciuto come portachiavi di sistema"),
])
def test_each_backend_is_named(module, name, words):
    backend_type = type(name, (), {"__module__": module, "file_path": "/home/u/.local/share/python_keyring/f.cfg"
                                   if module.startswith("keyrings.alt") else None})
    where, plaintext = credentials.describe_backend(backend_type())
    assert words in where and plaintext is False


def test_a_chainer_is_named_after_the_backend_that_stores(tmp_path):
    inner = PlaintextKeyring()
    inner.file_path = str(tmp_path / "k.cfg")
    chainer = type("ChainerBackend", (), {"backends": [inner]})()
    assert credentials.describe_backend(chainer)[1] is True
