"""A lighter start (issue 15): `pecmass send` loads neither the sandbox's servers, nor IMAP, nor the
receipts' signature checks before its first message; they load when needed (in-doubt, check-connection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pecmass_xl.cli.main import COMMAND_MODULES, COMMAND_OWNERS, build_parser

from .conftest import envelopes_for, make_campaign, unique_local

HEAVY = ("aiosmtpd", "pymap", "imapclient", "asn1crypto", "pyhanko_certvalidator", "cryptography",
         "pecmass_xl.sandbox.server", "pecmass_xl.receipts.signature", "pecmass_xl.tracking.ingest")

PROBE = """
import json, sys
from pecmass_xl.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_probe(*args: str, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


def commands(parser) -> set[str]:
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_every_command_is_owned_by_the_module_that_registers_it():
    everything = commands(build_parser())
    assert everything == set(COMMAND_OWNERS)
    for command, module in COMMAND_OWNERS.items():
        assert module in COMMAND_MODULES
        assert command in commands(build_parser(command))
    assert commands(build_parser("send")) < everything  # only the group of `send`
    assert commands(build_parser("no-such-command")) == everything  # argparse then names the choices


def test_send_starts_without_the_heavy_modules_and_still_sends(sb, tmp_path):
    address = f"{unique_local('light')}@studio.pec.test"
    path = make_campaign(tmp_path, [address])
    env = dict(os.environ, PECMASS_SANDBOX_DIR=str(sb.connection["dir"]))
    result = run_probe("send", str(path), "--yes", "--json", env=env)
    assert result["code"] == 0
    loaded = [m for m in result["modules"] if m.split(".")[0] in HEAVY or m in HEAVY]
    assert loaded == []
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1


def test_check_connection_still_loads_imap_when_it_needs_it(sb, tmp_path):
    path = make_campaign(tmp_path, [f"{unique_local('light')}@studio.pec.test"])
    env = dict(os.environ, PECMASS_SANDBOX_DIR=str(sb.connection["dir"]))
    result = run_probe("check-connection", str(path), "--json", env=env)
    assert result["code"] == 0 and "imapclient" in result["modules"]


def test_help_loads_no_workbook_smtp_or_sandbox_code():
    """`pecmass --help` (and each command's --help) stays light: a regression here came back once
    through a top-level import in a command module."""
    probe = ("import json, sys\nfrom pecmass_xl.cli.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(sys.modules)))")
    for args in (["--help"], ["send", "--help"], ["sandbox", "--help"], ["check", "--help"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
        heavy = {m for m in loaded if m in HEAVY or m.startswith(("pecmass_xl.workbook.file_workbook",
                 "pecmass_xl.mailclient.smtp_session", "pecmass_xl.sandbox.server", "aiosmtpd", "openpyxl"))}
        assert not heavy, (args, sorted(heavy))
