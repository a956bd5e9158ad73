"""The evidence archive on its own: written once, manifest appended, tampering and torn lines."""

from __future__ import annotations

import hashlib

from pecmass_xl.journal import archive


def test_files_are_written_once_and_listed_once(tmp_path):
    folder = tmp_path / "R2345ABCD"
    path, digest = archive.store(folder, "inviato-1.eml", b"messaggio inviato")
    again, same = archive.store(folder, "inviato-1.eml", b"messaggio inviato")
    assert again == path and same == digest == hashlib.sha256(b"messaggio inviato").hexdigest()
    archive.store(folder, "20261128T100000Z-accettazione-1a2b3c4d.eml", b"ricevuta")
    lines = (folder / archive.MANIFEST).read_text("utf-8").splitlines()
    assert lines == [f"{digest}  inviato-1.eml",
                     f"{hashlib.sha256(b'ricevuta').hexdigest()}  20261128T100000Z-accettazione-1a2b3c4d.eml"]
    assert archive.verify_manifest(folder) == []
    assert not list(folder.glob(".tmp-*"))


def test_an_existing_file_is_never_overwritten_and_tampering_shows(tmp_path):
    folder = tmp_path / "R2345ABCD"
    path, _ = archive.store(folder, "a.eml", b"originale")
    archive.store(folder, "a.eml", b"un altro contenuto")
    assert path.read_bytes() == b"originale"
    path.write_bytes(b"modificato")
    assert "a.eml" in archive.verify_manifest(folder)


def test_a_manifest_line_torn_by_a_crash_is_dropped_not_trusted(tmp_path):
    folder = tmp_path / "R2345ABCD"
    archive.store(folder, "a.eml", b"uno")
    manifest = folder / archive.MANIFEST
    manifest.write_bytes(manifest.read_bytes() + b"0123abc  20261128T1")  # crash halfway through an append
    assert archive.verify_manifest(folder) == []
    archive.store(folder, "b.eml", b"due")
    lines = manifest.read_text("utf-8").splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.eml", "b.eml"]
    assert archive.verify_manifest(folder) == []


def test_unsafe_names_stay_inside_the_folder(tmp_path):
    folder = tmp_path / "R2345ABCD"
    path, _ = archive.store(folder, "../../fuori/<strano>.eml", b"x")
    assert path.parent == folder
    assert path.resolve().is_relative_to(folder.resolve())
