"""File permissions (issue 11 part 6): a rewritten workbook keeps its mode and owner; the per-user
data folder is private (0700) and journals, ledgers and logs are 0600, since they hold recipients'
addresses. POSIX only: Windows has ACLs instead of modes."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from pecmass_xl.core import paths
from pecmass_xl.core.logging_setup import PrivateRotatingFileHandler
from pecmass_xl.journal import Journal, Ledger, UsageCounter

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o664, 0o640, 0o644, 0o600])
def test_a_rewritten_workbook_keeps_its_mode(mode, make_book, cli):
    path = make_book()
    os.chmod(path, mode)
    assert cli("check", path, "--write").rc == 0
    assert _mode(path) == mode
    assert cli("check", path, "--write").rc == 0  # and again
    assert _mode(path) == mode


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file to someone else")
def test_a_rewritten_workbook_keeps_its_owner_and_group(make_book, cli):
    path = make_book()
    os.chown(path, 4321, 4322)
    assert cli("check", path, "--write").rc == 0
    info = os.stat(path)
    assert (info.st_uid, info.st_gid) == (4321, 4322)


def test_a_new_workbook_gets_the_usual_mode(tmp_path, cli):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "nuova.xlsx"
        assert cli("new", path).rc == 0
        assert _mode(path) == 0o644
    finally:
        os.umask(umask)


def test_data_folder_journals_ledgers_and_logs_are_private(monkeypatch, tmp_path, make_book, cli):
    data = tmp_path / "dati"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # an existing folder made by an older version
    monkeypatch.setenv("PECMASS_DATA_DIR", str(data))
    assert paths.data_dir() == data and _mode(data) == 0o700
    with Journal.for_campaign("CABCDEFGHJK23") as journal:
        journal.add_row("RABCDEFGH", recipient="mario@pec.test", row_number=2)
        journal_file = journal.path
    assert _mode(paths.journals_dir()) == 0o700
    with Ledger() as ledger:
        ledger_file = ledger.path
    with UsageCounter() as usage:
        usage_file = usage.path
    for path in (journal_file, ledger_file, usage_file):
        assert _mode(path) == 0o600, path
        for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if companion.exists():
                assert _mode(companion) == 0o600, companion
    log_path = paths.private_file(paths.log_file())
    assert _mode(log_path) == 0o600


def test_rotated_logs_stay_private(tmp_path):
    path = tmp_path / "pecmass.log"
    handler = PrivateRotatingFileHandler(paths.private_file(path), maxBytes=200, backupCount=2, encoding="utf-8")
    logger = logging.getLogger("pecmass.test-rotation")
    logger.addHandler(handler)
    try:
        for n in range(20):
            logger.warning("riga di log numero %d, abbastanza lunga da far ruotare il file", n)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.glob("pecmass.log*"))
    assert len(files) == 3 and all(_mode(f) == 0o600 for f in files)


def test_an_existing_world_readable_journal_is_tightened(monkeypatch, tmp_path):
    monkeypatch.setenv("PECMASS_DATA_DIR", str(tmp_path / "dati"))
    with Journal.for_campaign("CABCDEFGHJK24") as journal:
        path = journal.path
    os.chmod(path, 0o644)
    with Journal.for_campaign("CABCDEFGHJK24"):
        pass
    assert _mode(path) == 0o600
