"""workbook_template.xlsm, checked with independent parsers: oletools, olefile, lxml, openpyxl."""

from __future__ import annotations

import importlib
import inspect
import io
import re
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
from lxml import etree
from oletools.olevba import VBA_Parser, VBA_Project, decompress_stream
from openpyxl import load_workbook

from pecmass_xl.excel import build
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import ovba
from pecmass_xl.workbook.macro_parts import preserve_macro_parts

from .conftest import REPO

CUSTOMUI_NS = "http://schemas.microsoft.com/office/2006/01/customui"
CUSTOMUI_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
RIBBON_LABELS = {
    "Verifica", "Anteprima", "Campi", "Importa CSV", "Prova connessione", "Invio di prova", "Invia",
    "Reinvia", "Interrompi", "Aggiorna ricevute", "Esporta report", "Apri archivio", "Password", "Guida",
}


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def vba_bin(data: bytes) -> bytes:
    return members(data)["xl/vbaProject.bin"]


def strict_project(bin_data: bytes) -> tuple[VBA_Project, dict]:
    """oletools' own MS-OVBA parser with relaxed=False: any unexpected dir record value raises."""
    ole = olefile.OleFileIO(io.BytesIO(bin_data))
    project = VBA_Project(ole, "", "PROJECT", "VBA/dir", relaxed=False)
    project.parse_project_stream()
    list(project.parse_modules())
    return project, {m.name: m for m in project.modules}


def expected_sources() -> dict[str, str]:
    """The text files of vba/, with CRLF line ends as they must be stored."""
    sources = {}
    for path in sorted((build.VBA_DIR).iterdir()):
        if path.suffix in (".bas", ".cls"):
            text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
            sources[path.stem] = text.replace("\n", "\r\n")
    return sources


def vba_subs(source: str) -> dict[str, tuple[str, list[str]]]:
    """Sub name -> (visibility, parameters) from VBA text."""
    subs = {}
    for match in re.finditer(r"^(Public |Private )?Sub (\w+)\(([^)]*)\)", source, re.MULTILINE):
        params = [p.strip() for p in match.group(3).split(",") if p.strip()]
        subs[match.group(2)] = ((match.group(1) or "Public ").strip(), params)
    return subs


# ------------------------------------------------------------------------------------ the VBA project

def test_olevba_strictly_extracts_exactly_our_modules(template_bytes):
    project, modules = strict_project(vba_bin(template_bytes))
    sources = expected_sources()
    assert set(modules) == set(sources)
    for name, module in modules.items():
        assert module.textoffset == 0, "source only, no p-code: Office compiles it"
        assert module.code == sources[name]
        assert module.streamname == name
    kinds = {name: module.type for name, module in modules.items()}
    assert kinds.pop("PecMassiva") == 0x21
    assert set(kinds.values()) == {0x22}  # ThisWorkbook and the sheets: document modules
    assert project.syskind == 3 and project.codepage == 1252 and project.projectname == "VBAProject"


def test_olevba_high_level_extraction_sees_every_module(template_path):
    parser = VBA_Parser(str(template_path))
    assert parser.detect_vba_macros()
    found = {stream.split("/")[-1] for _, stream, _, _ in parser.extract_macros()}
    parser.close()
    assert found == set(expected_sources())


def test_project_is_interoperable_unprotected_and_visible(template_bytes):
    ole = olefile.OleFileIO(io.BytesIO(vba_bin(template_bytes)))
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")
    assert not any(p[-1].startswith("__SRP_") for p in ole.listdir())
    text = ole.openstream("PROJECT").read().decode("cp1252")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    fields = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("&H"))
    project_id = fields["ID"].strip('"')
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", project_id)
    key = sum(project_id.encode()) & 0xFF
    assert ovba.decrypt(fields["CMG"].strip('"')) == (b"\0\0\0\0", key)  # not protected
    assert ovba.decrypt(fields["DPB"].strip('"')) == (b"\0", key)  # no password
    assert ovba.decrypt(fields["GC"].strip('"')) == (b"\xff", key)  # visible
    assert "[Host Extender Info]" in lines
    assert "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000" in lines
    documents = {line.split("=")[1].split("/")[0] for line in lines if line.startswith("Document=")}
    standard = {line.split("=")[1] for line in lines if line.startswith("Module=")}
    assert documents == {"ThisWorkbook", *build.SHEET_CODE_NAMES.values()}
    assert standard == {"PecMassiva"}
    wm = ole.openstream("PROJECTwm").read()
    assert wm.endswith(b"\x00\x00") and b"PecMassiva\x00" + "PecMassiva".encode("utf-16-le") in wm


def dir_records(bin_data: bytes) -> list[tuple[int, bytes]]:
    """Walk the decompressed dir stream record by record (independently of the writer)."""
    ole = olefile.OleFileIO(io.BytesIO(bin_data))
    data = bytes(decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
    records, pos = [], 0
    while pos < len(data):
        record_id, size = struct.unpack_from("<HI", data, pos)
        pos += 6
        if record_id == 0x0009:  # PROJECTVERSION: "size" is a reserved 4, then 6 bytes
            size = 6
        records.append((record_id, data[pos:pos + size]))
        pos += size
    assert pos == len(data)
    return records


def test_dir_stream_has_every_required_record_in_order(template_bytes):
    records = dir_records(vba_bin(template_bytes))
    ids = [r for r, _ in records]
    assert ids[:14] == [0x01, 0x02, 0x14, 0x03, 0x04, 0x05, 0x40, 0x06, 0x3D, 0x07, 0x08, 0x09, 0x0C, 0x3C]
    # References: stdole and the Office type library (IRibbonControl), both registered.
    refs = ids[14:ids.index(0x0F)]
    assert refs == [0x16, 0x3E, 0x0D] * 2
    names = [payload.decode("cp1252") for rid, payload in records if rid == 0x16]
    libids = [payload[4:4 + struct.unpack_from("<I", payload)[0]].decode("cp1252")
              for rid, payload in records if rid == 0x0D]
    assert names == ["stdole", "Office"]
    assert "{00020430-0000-0000-C000-000000000046}" in libids[0]
    assert "{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}" in libids[1]
    # Modules: count, cookie, then one fixed block per module, then the terminator.
    start = ids.index(0x0F)
    count = struct.unpack("<H", records[start][1])[0]
    assert ids[start + 1] == 0x13
    blocks = ids[start + 2:-1]
    assert ids[-1] == 0x10
    assert len(blocks) == 11 * count == 11 * len(expected_sources())
    for k in range(count):
        block = blocks[11 * k: 11 * (k + 1)]
        assert block[:9] == [0x19, 0x47, 0x1A, 0x32, 0x1C, 0x48, 0x31, 0x1E, 0x2C]
        assert block[9] in (0x21, 0x22) and block[10] == 0x2B
    offsets = [struct.unpack("<I", payload)[0] for rid, payload in records if rid == 0x31]
    assert offsets == [0] * count


def test_vba_sources_are_ascii_and_start_with_their_name(template_bytes):
    """ASCII keeps the text identical on Windows and Mac; accents come from ChrW at run time."""
    for name, source in expected_sources().items():
        source.encode("ascii")
        assert source.startswith(f'Attribute VB_Name = "{name}"\r\n')
        assert "Option Explicit" in source


def test_document_modules_carry_their_base_attributes():
    sources = expected_sources()
    assert 'Attribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"' in sources["ThisWorkbook"]
    for code_name in build.SHEET_CODE_NAMES.values():
        assert 'Attribute VB_Base = "0{00020820-0000-0000-C000-000000000046}"' in sources[code_name]
        for attribute in ("VB_GlobalNameSpace = False", "VB_Creatable = False", "VB_PredeclaredId = True",
                          "VB_Exposed = True", "VB_TemplateDerived = False", "VB_Customizable = True"):
            assert f"Attribute {attribute}" in sources[code_name]


def test_vba_constants_follow_the_workbook_contract():
    source = expected_sources()["PecMassiva"]
    headers = re.search(r'RESULT_HEADERS As String = _\s*"([^"]*)"', source).group(1)
    assert headers.strip("|").split("|") == list(c.RESULT_COLUMNS)
    assert f'LIST_SHEET As String = "{c.SHEET_LIST}"' in source


# ------------------------------------------------------------------------------------ the ribbon

def ribbon_tree(data: bytes):
    return etree.fromstring(members(data)["customUI/customUI.xml"])


def test_ribbon_validates_against_the_office_schema(template_bytes, ribbon_schema):
    root = ribbon_tree(template_bytes)
    assert ribbon_schema.validate(etree.ElementTree(root)), ribbon_schema.error_log
    broken = etree.fromstring(etree.tostring(root))
    broken.find(f".//{{{CUSTOMUI_NS}}}button").set("size", "huge")
    assert not ribbon_schema.validate(etree.ElementTree(broken))  # the schema does reject errors


def test_ribbon_has_the_pec_massiva_tab_with_every_command(template_bytes):
    root = ribbon_tree(template_bytes)
    assert root.tag == f"{{{CUSTOMUI_NS}}}customUI"
    tabs = root.findall(f".//{{{CUSTOMUI_NS}}}tab")
    assert [t.get("label") for t in tabs] == ["PEC Massiva"]
    controls = [e for e in tabs[0].iter() if etree.QName(e).localname in ("button", "dynamicMenu")]
    assert {e.get("label") for e in controls} == RIBBON_LABELS
    assert all(e.get("imageMso") for e in controls)
    campi = next(e for e in controls if e.get("label") == "Campi")
    assert etree.QName(campi).localname == "dynamicMenu" and campi.get("invalidateContentOnDrop") == "true"


EXPECTED_SIGNATURES = {
    "onAction": [r"control As (Object|IRibbonControl)"],
    "getContent": [r"control As (Object|IRibbonControl)", r"ByRef returnedVal( As Variant)?"],
    "onLoad": [r"ribbon As (Object|IRibbonUI)"],
}


def test_every_ribbon_callback_exists_with_the_right_signature(template_bytes):
    _, modules = strict_project(vba_bin(template_bytes))
    callbacks = []
    for element in ribbon_tree(template_bytes).iter():
        for attribute, value in element.attrib.items():
            if attribute.startswith(("on", "get")):
                callbacks.append((attribute, value))
    # The Campi menu's items are generated by VBA: their callbacks count too.
    for value in re.findall(r'onAction=""([\w.]+)""', modules["PecMassiva"].code):
        callbacks.append(("onAction", value))
    assert len(callbacks) >= len(RIBBON_LABELS)
    for attribute, value in callbacks:
        module_name, sub_name = value.split(".")
        subs = vba_subs(modules[module_name].code)
        assert sub_name in subs, f"{value} is not a Sub of {module_name}"
        visibility, params = subs[sub_name]
        assert visibility == "Public"
        patterns = EXPECTED_SIGNATURES[attribute]
        assert len(params) == len(patterns), f"{value}: {params}"
        for param, pattern in zip(params, patterns, strict=False):
            assert re.fullmatch(pattern, param), f"{value}: {param!r}"


def test_every_python_target_of_the_vba_exists_in_the_handlers():
    source = expected_sources()["PecMassiva"]
    module_name = re.search(r'PYTHON_MODULE As String = "([\w.]+)"', source).group(1)
    assert module_name == "pecmass_xl.excel.handlers"
    call = 'Application.Run "\'xlwings.xlam\'!RunPython", "import " & PYTHON_MODULE & " as h; h." & handlerName & "()"'
    assert call in source
    targets = re.findall(r'RunHandler "(\w+)"', source)
    assert len(targets) == len(RIBBON_LABELS) - 2  # all but Campi (VBA only) and Guida (VBA only)
    handlers = importlib.import_module(module_name)
    for name in targets:
        namespace: dict = {}
        exec(f"import {module_name} as h; target = h.{name}", namespace)  # the command RunPython runs
        assert callable(namespace["target"])
        assert inspect.signature(namespace["target"]).parameters == {}
        assert namespace["target"].__doc__
    public = {n for n, f in inspect.getmembers(handlers, inspect.isfunction)
              if not n.startswith("_") and f.__module__ == module_name}
    assert public == set(targets), "every handler has a button and every button a handler"


def test_missing_addin_message_is_italian_and_says_how_to_install():
    source = expected_sources()["PecMassiva"]
    body = source[source.index("Private Function AddinMissingMessage"):]
    body = body[:body.index("End Function")]
    assert "pecmass excel installa" in body and "pecmass excel verifica" in body
    assert "pip install pecmass-xl" not in source  # not published on PyPI: never tell users to

    assert "If Not AddinLoaded() Then" in source


# ------------------------------------------------------------------------------------ the package

def test_package_parts_relationships_and_content_types(template_bytes):
    parts = members(template_bytes)
    types = etree.fromstring(parts["[Content_Types].xml"])
    ns = {"t": "http://schemas.openxmlformats.org/package/2006/content-types"}
    overrides = {e.get("PartName"): e.get("ContentType") for e in types.findall("t:Override", ns)}
    defaults = {e.get("Extension"): e.get("ContentType") for e in types.findall("t:Default", ns)}
    assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert defaults["bin"] == "application/vnd.ms-office.vbaProject"
    assert defaults["xml"] == "application/xml"  # covers customUI/customUI.xml
    root_rels = parts["_rels/.rels"].decode()
    assert f'Type="{CUSTOMUI_REL}" Target="customUI/customUI.xml"' in root_rels
    assert f'Type="{VBA_REL}" Target="vbaProject.bin"' in parts["xl/_rels/workbook.xml.rels"].decode()
    assert b'codeName="ThisWorkbook"' in parts["xl/workbook.xml"]
    assert parts["customUI/customUI.xml"] == build.RIBBON_FILE.read_bytes()


def test_sheets_are_bound_to_their_document_modules(template_path):
    wb = load_workbook(template_path, keep_vba=True)
    assert wb.code_name == "ThisWorkbook"
    assert {ws.title: ws.sheet_properties.codeName for ws in wb.worksheets} == build.SHEET_CODE_NAMES


def test_template_has_no_campaign_id_and_colours_the_status(template_path):
    wb = load_workbook(template_path)
    marker = wb[c.SHEET_MARKER]
    assert marker.sheet_state == "veryHidden"
    values = {row[0].value: row[1].value for row in marker.iter_rows(min_row=1, max_col=2)}
    assert values[c.MARKER_CAMPAIGN] in (None, "")  # every copy gets its own id on first use
    sheet = wb[c.SHEET_LIST]
    status_col = next(cell.column for cell in sheet[1] if cell.value == c.COL_STATUS)
    rules = [(rng, rule) for rng in sheet.conditional_formatting for rule in rng.rules
             if any(r.min_col <= status_col <= r.max_col for r in rng.sqref.ranges)]
    coloured = {rule.formula[0].strip('"') for _, rule in rules}
    assert {c.ST_DELIVERED, c.ST_NOT_DELIVERED, c.ST_INVALID} <= coloured


def test_build_is_deterministic(template_bytes):
    again = build.build_template()
    assert again == template_bytes
    with zipfile.ZipFile(io.BytesIO(again)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        names = archive.namelist()
        core = archive.read("docProps/core.xml").decode()
    assert names[0] == "[Content_Types].xml" and names[-1] == "xl/vbaProject.bin"
    assert "2024-01-01T00:00:00Z" in core


def compare_member_by_member(checked_in: Path, fresh: bytes) -> None:
    with zipfile.ZipFile(checked_in) as old, zipfile.ZipFile(io.BytesIO(fresh)) as new:
        assert old.namelist() == new.namelist()
        for old_info, new_info in zip(old.infolist(), new.infolist(), strict=False):
            assert old_info.date_time == new_info.date_time, old_info.filename
            assert old.read(old_info) == new.read(new_info), (
                f"{old_info.filename} differs: run `python -m pecmass_xl.excel.build` and commit"
            )


def test_checked_in_template_equals_a_fresh_build(template_bytes):
    root_copy = REPO / build.TEMPLATE_NAME
    if not root_copy.is_file():
        pytest.skip("workbook_template.xlsm non presente (pacchetto installato senza sorgenti)")
    compare_member_by_member(root_copy, template_bytes)


def test_package_copy_equals_the_root_copy(template_bytes):
    compare_member_by_member(build.PACKAGE_TEMPLATE, template_bytes)
    root_copy = REPO / build.TEMPLATE_NAME
    if root_copy.is_file():
        assert root_copy.read_bytes() == build.PACKAGE_TEMPLATE.read_bytes()


# ------------------------------------------------------------------------------------ openpyxl saves

def test_openpyxl_round_trip_keeps_vba_and_ribbon(template_path, tmp_path, template_bytes):
    wb = load_workbook(template_path, keep_vba=True)
    wb[c.SHEET_LIST]["A3"] = "nuova.riga@esempio.pec.test"
    saved = tmp_path / "salvata.xlsm"
    wb.save(saved)
    before, after = members(template_bytes), members(saved.read_bytes())
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
    assert after["customUI/customUI.xml"] == before["customUI/customUI.xml"]
    assert CUSTOMUI_REL in after["_rels/.rels"].decode()
    assert b"macroEnabled.main+xml" in after["[Content_Types].xml"]
    assert preserve_macro_parts(template_path, saved) is False  # nothing was lost
    strict_project(after["xl/vbaProject.bin"])


def _strip_macro_parts(data: bytes) -> bytes:
    """What a careless writer could produce: no VBA, no ribbon, no relationships, plain xlsx type."""
    parts = members(data)
    del parts["xl/vbaProject.bin"], parts["customUI/customUI.xml"]
    parts["_rels/.rels"] = re.sub(rb'<Relationship [^>]*ui/extensibility"[^>]*/>', b"", parts["_rels/.rels"])
    parts["xl/_rels/workbook.xml.rels"] = re.sub(rb'<Relationship [^>]*vbaProject"[^>]*/>', b"",
                                                 parts["xl/_rels/workbook.xml.rels"])
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ).replace(b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>', b"")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_preserve_macro_parts_repairs_a_save_that_lost_them(template_path, tmp_path, template_bytes):
    damaged = tmp_path / "danneggiata.xlsm"
    damaged.write_bytes(_strip_macro_parts(template_bytes))
    assert preserve_macro_parts(template_path, damaged) is True
    repaired = members(damaged.read_bytes())
    assert repaired["xl/vbaProject.bin"] == vba_bin(template_bytes)
    assert repaired["customUI/customUI.xml"] == build.RIBBON_FILE.read_bytes()
    assert CUSTOMUI_REL in repaired["_rels/.rels"].decode()
    assert VBA_REL in repaired["xl/_rels/workbook.xml.rels"].decode()
    assert b"macroEnabled.main+xml" in repaired["[Content_Types].xml"]
    wb = load_workbook(damaged, keep_vba=True)  # still a workbook openpyxl reads
    assert c.SHEET_LIST in wb.sheetnames
    assert preserve_macro_parts(template_path, damaged) is False


def test_new_xlsm_from_the_template_keeps_macros_and_gets_a_campaign_id(tmp_path, template_bytes):
    from pecmass_xl.app import new as new_case

    if build.PACKAGE_TEMPLATE.read_bytes() != template_bytes:
        pytest.fail("the packaged template is stale: run `python -m pecmass_xl.excel.build`")
    path = new_case.new_workbook(tmp_path / "campagna.xlsm")
    parts = members(path.read_bytes())
    assert parts["xl/vbaProject.bin"] == vba_bin(template_bytes)
    assert parts["customUI/customUI.xml"] == build.RIBBON_FILE.read_bytes()
    assert CUSTOMUI_REL in parts["_rels/.rels"].decode()
    wb = load_workbook(path, keep_vba=True)
    marker = {row[0].value: row[1].value for row in wb[c.SHEET_MARKER].iter_rows(max_col=2)}
    assert marker[c.MARKER_CAMPAIGN]
    assert {ws.title: ws.sheet_properties.codeName for ws in wb.worksheets} == build.SHEET_CODE_NAMES


def test_re_created_sheets_get_their_code_names_back(template_path, tmp_path):
    """openpyxl drops the code name of a sheet deleted and re-created under the same name."""
    wb = load_workbook(template_path, keep_vba=True)
    for title in (c.SHEET_LIST, c.SHEET_SUMMARY):
        index = wb.sheetnames.index(title)
        wb.remove(wb[title])
        wb.create_sheet(title, index)
    wb.create_sheet("Altro")
    saved = tmp_path / "ricreata.xlsm"
    wb.save(saved)
    assert load_workbook(saved, keep_vba=True)[c.SHEET_SUMMARY].sheet_properties.codeName is None
    assert preserve_macro_parts(template_path, saved) is True
    reloaded = load_workbook(saved, keep_vba=True)
    names = {ws.title: ws.sheet_properties.codeName for ws in reloaded.worksheets}
    assert names == {**build.SHEET_CODE_NAMES, "Altro": None}
    assert preserve_macro_parts(template_path, saved) is False


def test_code_name_is_added_to_a_sheet_without_sheet_properties():
    from pecmass_xl.workbook.macro_parts import _code_name, _with_code_name

    bare = b'<?xml version="1.0"?><worksheet xmlns="x"><sheetData/></worksheet>'
    prefixed = b'<x:worksheet xmlns:x="x"><x:sheetPr><x:pageSetUpPr/></x:sheetPr></x:worksheet>'
    assert _code_name(_with_code_name(bare, "Foglio1")) == "Foglio1"
    assert b'<worksheet xmlns="x"><sheetPr codeName="Foglio1"/><sheetData/>' in _with_code_name(bare, "Foglio1")
    assert b'<x:sheetPr codeName="F"><x:pageSetUpPr/>' in _with_code_name(prefixed, "F")
    assert _code_name(b'<worksheet><sheetPr codeName="A"/></worksheet>') == "A"


def test_writing_results_and_summary_keeps_every_sheet_bound_to_its_module(tmp_path):
    from pecmass_xl.app import new as new_case
    from pecmass_xl.workbook.file_workbook import FileWorkbook
    from pecmass_xl.workbook.riepilogo import Summary

    path = new_case.new_workbook(tmp_path / "campagna.xlsm")
    FileWorkbook(path).write(summary=Summary(counts={c.ST_TO_SEND: 1}))
    wb = load_workbook(path, keep_vba=True)
    assert {ws.title: ws.sheet_properties.codeName for ws in wb.worksheets} == build.SHEET_CODE_NAMES
    strict_project(vba_bin(path.read_bytes()))
