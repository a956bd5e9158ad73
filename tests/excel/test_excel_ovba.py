"""MS-OVBA pieces: compression and encryption checked against independent implementations/data."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from oletools.olevba import decompress_stream

from pecmass_xl.workbook import ovba

XLWINGS_DIR = Path(xlwings.__file__).parent


def _samples() -> list[bytes]:
    rng = random.Random(7)
    text = (XLWINGS_DIR / "xlwings.bas").read_bytes()  # 46 KB of real VBA
    return [
        b"",
        b"a",
        b"abc",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa",  # MS-OVBA 3.2.3 example input
        bytes(range(256)) * 40,
        bytes(rng.randrange(256) for _ in range(4096 * 3)),  # incompressible: raw chunks
        b"x" * 4096,
        b"x" * 4097,
        text,
    ]


@pytest.mark.parametrize("data", _samples(), ids=lambda d: f"{len(d)}B")
def test_compression_round_trips_through_oletools(data):
    compressed = ovba.compress(data)
    assert compressed[0] == 1
    assert bytes(decompress_stream(bytearray(compressed))) == data


def test_compression_actually_compresses_source_text():
    text = (XLWINGS_DIR / "xlwings.bas").read_bytes()
    assert len(ovba.compress(text)) < len(text) * 0.6


def test_excel_written_protection_fields_decrypt_with_the_spec_key():
    """xlwings ships a quickstart.xlsm saved by Excel: its CMG/DPB/GC must decode as ours do."""
    with zipfile.ZipFile(XLWINGS_DIR / "quickstart.xlsm") as archive:
        ole = olefile.OleFileIO(io.BytesIO(archive.read("xl/vbaProject.bin")))
    project = ole.openstream("PROJECT").read().decode("cp1252")
    fields = dict(line.split("=", 1) for line in project.splitlines() if "=" in line)
    project_id = fields["ID"].strip('"')
    key = sum(project_id.encode()) & 0xFF
    assert ovba.decrypt(fields["CMG"].strip('"')) == (b"\x00\x00\x00\x00", key)
    assert ovba.decrypt(fields["DPB"].strip('"')) == (b"\x00", key)
    assert ovba.decrypt(fields["GC"].strip('"')) == (b"\xff", key)


def test_encryption_round_trips_for_every_seed():
    project_id = "{6A1F3C52-8E0B-4D27-9C61-5B2E7F04A9D3}"
    key = sum(project_id.encode()) & 0xFF
    seen_seeds = set()
    for seed in range(600):
        rng = random.Random(seed)
        for plain in (b"\x00\x00\x00\x00", b"\x00", b"\xff"):
            hex_text = ovba.encrypt(plain, project_id, rng)
            seen_seeds.add(bytes.fromhex(hex_text)[0])
            assert ovba.decrypt(hex_text) == (plain, key)
    assert len(seen_seeds) == 256


def test_vba_project_stream_is_the_interoperable_seven_bytes():
    assert ovba.vba_project_stream() == bytes.fromhex("CC61FFFF000100")


def _module(name: str, kind: str = ovba.MODULE_PROCEDURAL, body: str = "Option Explicit") -> ovba.Module:
    return ovba.Module(name, kind, f'Attribute VB_Name = "{name}"\n{body}\n')


def test_sources_are_stored_with_crlf_in_code_page_1252():
    module = ovba.Module("M", ovba.MODULE_PROCEDURAL, 'Attribute VB_Name = "M"\nx = "città"\r\ny\rz')
    assert module.encoded_source() == 'Attribute VB_Name = "M"\r\nx = "città"\r\ny\r\nz\r\n'.encode("cp1252")


@pytest.mark.parametrize("name", ["_Hidden", "1abc", "a b", "x" * 32, "dir"])
def test_bad_module_names_are_refused(name):
    project = ovba.Project("VBAProject", "{6A1F3C52-8E0B-4D27-9C61-5B2E7F04A9D3}",
                           (ovba.Module(name, ovba.MODULE_PROCEDURAL, f'Attribute VB_Name = "{name}"\n'),))
    with pytest.raises(ValueError):
        ovba.build_vba_project(project)


def test_a_module_must_start_with_its_name_attribute_and_fit_the_code_page():
    pid = "{6A1F3C52-8E0B-4D27-9C61-5B2E7F04A9D3}"
    with pytest.raises(ValueError):
        ovba.build_vba_project(ovba.Project("VBAProject", pid, (ovba.Module("M", ovba.MODULE_PROCEDURAL, "Option Explicit"),)))
    with pytest.raises(UnicodeEncodeError):
        ovba.build_vba_project(ovba.Project("VBAProject", pid, (_module("M", body='x = "€ ok, ✓ no"'),)))


def test_project_wm_maps_every_module_name_in_both_encodings():
    project = ovba.Project("VBAProject", "{6A1F3C52-8E0B-4D27-9C61-5B2E7F04A9D3}", (_module("A"), _module("Bc")))
    assert ovba.project_wm_stream(project) == (
        b"A\x00" + "A".encode("utf-16-le") + b"\x00\x00" + b"Bc\x00" + "Bc".encode("utf-16-le") + b"\x00\x00" + b"\x00\x00"
    )
