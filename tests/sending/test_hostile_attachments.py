"""Attachments outside the campaign, end to end (issue 11 parts 3 and 8): refused rows never reach a
mailbox or the archive; an allowed folder's file arrives byte for byte; the confirmation states the
attachment total."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.workbook import contract as c

from .conftest import run, sheet_rows
from .test_hostile_headers import _address, _book, originals

SECRET = "segreto-nell-ambiente-4711"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_attachments_outside_the_folder_never_leave(sb, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PECMASS_TEST_SECRET", SECRET)
    campaign = tmp_path / "campagna"
    campaign.mkdir()
    (tmp_path / "altrove").mkdir()
    (tmp_path / "altrove" / "riservato.pdf").write_bytes(b"%PDF riservato " + SECRET.encode())
    (tmp_path / "consentita").mkdir()
    allowed = b"%PDF-1.4 consentito\x00\x01\x02"
    (tmp_path / "consentita" / "ok.pdf").write_bytes(allowed)
    (campaign / "ambiente.pdf").symlink_to("/proc/self/environ")
    (campaign / "innocuo.pdf").symlink_to(tmp_path / "altrove" / "riservato.pdf")
    recipients = [_address() for _ in range(5)]
    rows = [
        [recipients[0], "A", "x", "../altrove/riservato.pdf"],
        [recipients[1], "B", "x", "ambiente.pdf"],
        [recipients[2], "C", "x", "/proc/self/environ"],
        [recipients[3], "D", "x", "innocuo.pdf"],
        [recipients[4], "E", "x", "../consentita/ok.pdf"],
    ]
    path = _book(campaign, rows)
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb[c.SHEET_SETTINGS].append([c.SET_ATTACHMENT_FOLDERS, "../consentita"])
    wb.save(path)

    assert run("send", path) == 1  # no terminal, Sandbox preset: confirmed without asking
    out = capsys.readouterr().out
    assert "Allegati: 1 in tutto (1 file diverso), 22 byte da inviare" in out
    sb.wait_idle(10)
    for address in recipients[:4]:
        assert originals(sb, address) == []
    delivered = originals(sb, recipients[4])
    assert len(delivered) == 1
    [attachment] = list(delivered[0][1].iter_attachments())
    assert attachment.get_filename() == "ok.pdf" and attachment.get_content() == allowed
    states = {r["PEC"]: (r[c.COL_STATUS], r[c.COL_DETAIL]) for r in sheet_rows(path)}
    assert [states[a][0] for a in recipients[:4]] == [c.ST_INVALID] * 4
    assert states[recipients[4]][0] in (c.ST_SENT, c.ST_ACCEPTED, c.ST_DELIVERED)
    assert "Cartelle allegati" in states[recipients[0]][1] and "/proc/" in states[recipients[1]][1]
    archive = campaign / "lista - archivio PEC"
    everything = _all_bytes(archive) + b"".join(raw for a in recipients for raw in sb.mailbox_messages(a))
    assert SECRET.encode() not in everything
