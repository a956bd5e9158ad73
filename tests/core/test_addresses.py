"""Recipient addresses: one plain address per row, reserved test domains only with Sandbox.

Each test builds one workbook with one address per row and checks it once.
"""

from __future__ import annotations

from pecmass_xl.workbook import contract as c

from .books import REAL_PROVIDER

MALFORMED = [
    "mario.rossi",                    # no @
    "mario.rossi@",                   # no domain
    "@pec.esempio.it",                # no local part
    "mario rossi@pec.esempio.it",     # space in the local part
    "mario@pec",                      # domain without a dot
    "mario..rossi@pec.esempio.it",    # two dots in a row
    ".mario@pec.esempio.it",          # leading dot
    "mario.@pec.esempio.it",          # trailing dot in the local part
    "mario@-pec.esempio.it",          # label starting with a hyphen
    "mario@pec.esempio.it.",          # trailing dot in the domain
    "mario@pec.esempio.123",          # numeric top-level domain
    "màrio@pec.esempio.it",           # non-ASCII local part
    "mario@pèc.esempio.it",           # non-ASCII domain
    '"mario rossi"@pec.esempio.it',   # quoted local part
    "Mario Rossi <mario@pec.esempio.it>",  # display name
    "<mario@pec.esempio.it>",         # angle brackets
    "mailto:mario@pec.esempio.it",    # a link, not an address
    "mario@[127.0.0.1]",              # address literal
    "m" * 65 + "@pec.esempio.it",     # local part over 64 characters
    "mario@" + "a" * 64 + ".it",      # label over 63 characters
    "mario@@pec.esempio.it",          # two @, no separator
]

SEVERAL = [
    "a@pec.esempio.it; b@pec.esempio.it",
    "a@pec.esempio.it,b@pec.esempio.it",
    "a@pec.esempio.it b@pec.esempio.it",
    "a@pec.esempio.it\nb@pec.esempio.it",
    "a@pec.esempio.it;b@pec.esempio.it;",
]

VALID = [
    "mario.rossi@pec.esempio.it",
    "MARIO.ROSSI2@PEC.ESEMPIO2.IT",
    "mario_rossi+ufficio@pec.esempio.it",
    "o'brien@pec.esempio.it",
    "studio-legale@sub.dominio-lungo.esempio.it",
    "  spazi.attorno@pec.esempio.it  ",  # trimmed
    "m" * 64 + "@pec.esempio.it",
]

RESERVED = ["mario@pec.test", "mario@esempio.example", "mario@example.com", "mario@pec.example.org",
            "mario@example.net", "mario@qualcosa.invalid", "mario@host.localhost"]


def _rows(addresses):
    return [[address, "Mario", "Rossi", None] for address in addresses]


def _by_row(doc):
    found: dict[int, list[tuple[str, str]]] = {}
    for p in doc["problems"]:
        if p["row"] is not None:
            found.setdefault(p["row"], []).append((p["code"], p["column"]))
    return found


def test_malformed_addresses(make_book, check):
    rc, _, doc = check(make_book(rows=_rows(MALFORMED), settings=REAL_PROVIDER))
    assert rc == 1
    by_row = _by_row(doc)
    for number, address in enumerate(MALFORMED, start=2):
        assert by_row.get(number) == [("address_invalid", "PEC")], (address, by_row.get(number))
    messages = {p["row"]: p["message"] for p in doc["problems"]}
    assert "«mario.rossi» non è un indirizzo PEC valido" in messages[2]
    assert "senza nomi né parentesi" in messages[2 + MALFORMED.index("Mario Rossi <mario@pec.esempio.it>")]


def test_two_addresses_in_a_cell(make_book, check):
    rc, _, doc = check(make_book(rows=_rows(SEVERAL), settings=REAL_PROVIDER))
    assert rc == 1
    by_row = _by_row(doc)
    for number, address in enumerate(SEVERAL, start=2):
        assert by_row.get(number) == [("address_multiple", "PEC")], (address, by_row.get(number))
    assert "uno solo per riga" in doc["problems"][0]["message"]


def test_valid_addresses(make_book, check, cli):
    path = make_book(rows=_rows(VALID), settings=REAL_PROVIDER)
    rc, found, doc = check(path)
    assert (rc, found, doc["rows"]) == (0, [], len(VALID))
    trimmed = cli("preview", path, "--row", 2 + VALID.index("  spazi.attorno@pec.esempio.it  "), "--json").json
    assert trimmed["to"] == "spazi.attorno@pec.esempio.it"


def test_reserved_domains_refused_without_sandbox(make_book, check):
    rc, _, doc = check(make_book(rows=_rows(RESERVED), settings=REAL_PROVIDER))
    assert rc == 1
    by_row = _by_row(doc)
    for number, address in enumerate(RESERVED, start=2):
        assert by_row.get(number) == [("address_reserved_domain", "PEC")], (address, by_row.get(number))


def test_reserved_domains_accepted_with_sandbox(make_book, check):
    rc, found, doc = check(make_book(rows=_rows(RESERVED), settings={c.SET_PROVIDER: "Sandbox"}))
    assert (rc, found, doc["rows"]) == (0, [], len(RESERVED))


def test_preset_name_is_case_insensitive_for_sandbox(make_book, check):
    rc, found, _ = check(make_book(rows=_rows(["a@pec.test"]), settings={c.SET_PROVIDER: " sandbox "}))
    assert (rc, found) == (0, [])


def test_duplicate_addresses_are_a_warning_naming_the_first_row(make_book, check):
    rows = _rows(["a@pec.test", "b@pec.test", "A@PEC.TEST", " b@pec.test ", "c@pec.test"])
    rc, found, doc = check(make_book(rows=rows))
    assert rc == 0
    assert found == [("address_duplicate", 4, "PEC"), ("address_duplicate", 5, "PEC")]
    assert "compare anche alla riga 2" in doc["problems"][0]["message"]
    assert "compare anche alla riga 3" in doc["problems"][1]["message"]


def test_address_column_from_settings(make_book, check, cli):
    headers = ["Nome", "Cognome", "Posta certificata", "PEC"]
    rows = [["Mario", "Rossi", "mario@pec.test", "non un indirizzo"]]
    path = make_book(headers=headers, rows=rows, settings={c.SET_ADDRESS_COLUMN: "Posta certificata"})
    rc, found, _ = check(path)
    assert (rc, found) == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["to"] == "mario@pec.test"


def test_address_column_missing_is_one_general_error(make_book, check):
    rc, found, doc = check(make_book(rows=_rows(["a@pec.test", "b@pec.test"]), settings={c.SET_ADDRESS_COLUMN: "Email"}))
    assert rc == 1
    assert ("address_column_missing", None, c.SET_ADDRESS_COLUMN) in found
    assert "Non trovo la colonna «Email»" in doc["problems"][0]["message"]
