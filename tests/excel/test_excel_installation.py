"""`pecmass excel installa` / `verifica`: the Windows side through a fake registry and fake zone streams,
the Mac side through its folders; real files, the real xlwings add-in, the real CLI entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pecmass_xl.app import excel_setup as inst
from pecmass_xl.cli import excel_setup as cli_excel
from pecmass_xl.cli.main import main


class FakeRegistry:
    """HKCU/HKLM keys as a dict: {(hive, key): {name: value}}; sub-keys derived from the key paths."""

    def __init__(self, values: dict[tuple[str, str], dict[str, object]] | None = None):
        self.values = values or {}

    def value(self, hive, key, name):
        return self.values.get((hive, key), {}).get(name)

    def subkeys(self, hive, key):
        prefix = key + "\\"
        return sorted({k[len(prefix):].split("\\")[0] for h, k in self.values if h == hive and k.startswith(prefix)})


def windows_env(tmp_path: Path, registry=None, zones=None, runnable=(), heavy=()) -> inst.Environment:
    home = tmp_path / "Users" / "anna"
    home.mkdir(parents=True, exist_ok=True)
    zones = zones or {}
    return inst.Environment(
        platform="win32", home=home, appdata=home / "AppData" / "Roaming", executable=sys.executable,
        registry=registry or FakeRegistry(), zone_of=lambda path: zones.get(Path(path).name),
        can_run=lambda interpreter: interpreter in runnable, has_module=lambda name: name in heavy,
        addin_source=inst._xlwings_file("addin", inst.ADDIN), applescript_source=inst._applescript())


def mac_env(tmp_path: Path) -> inst.Environment:
    env = windows_env(tmp_path)
    env.platform, env.appdata, env.registry = "darwin", None, None
    return env


def states(report: inst.Report) -> dict[str, str]:
    return {f.subject: f.state for f in report.findings}


def test_the_real_xlwings_addin_and_applescript_are_found():
    env = inst.Environment.current()
    assert env.addin_source.is_file() and env.addin_source.read_bytes()[:2] == b"PK"
    assert env.applescript_source.name.startswith("xlwings-") and env.applescript_source.is_file()


def test_a_fresh_windows_user_is_told_to_install_then_everything_is_ready(tmp_path):
    env = windows_env(tmp_path)
    before = inst.check(env)
    assert states(before)["Componente aggiuntivo xlwings"] == inst.TODO
    assert states(before)["Python usato da Excel"] == inst.TODO and not before.ready
    assert any("pecmass excel installa" in f.todo for f in before.findings)

    done = inst.install(env)
    xlstart = env.home / "AppData" / "Roaming" / "Microsoft" / "Excel" / "XLSTART"
    assert (xlstart / "xlwings.xlam").read_bytes() == env.addin_source.read_bytes()
    conf = env.home / ".xlwings" / "xlwings.conf"
    assert conf.read_text(encoding="utf-8") == f'"INTERPRETER_WIN","{sys.executable}"\n'
    assert any("Chiudete e riaprite Excel" in line for line in done)
    after = inst.check(env)
    assert after.ready, after.lines()
    assert states(after)["Centro protezione"] == inst.OK  # default: disabled with notification


def test_a_stale_interpreter_is_reported_and_replaced_keeping_other_settings(tmp_path):
    env = windows_env(tmp_path)
    inst.write_config(env.config_file, {"INTERPRETER_WIN": r"C:\Python39\python.exe", "CONDA PATH": r"C:\conda",
                                        "CONDA ENV": "base", "UDF MODULES": "udfs.pecmass_udfs"})
    report = inst.check(env)
    assert states(report)["Python usato da Excel"] == inst.WARN  # conda wins over the interpreter
    inst.write_config(env.config_file, {"INTERPRETER_WIN": r"C:\Python39\python.exe", "UDF MODULES": "udfs.pecmass_udfs"})
    finding = next(f for f in inst.check(env).findings if f.subject == "Python usato da Excel")
    assert finding.state == inst.TODO and "non esiste più" in finding.detail
    other = tmp_path / "altro-python"
    other.write_text("")
    inst.write_config(env.config_file, {"INTERPRETER_WIN": str(other)})
    finding = next(f for f in inst.check(env).findings if f.subject == "Python usato da Excel")
    assert finding.state == inst.TODO and "pecmass non è installato" in finding.detail
    inst.write_config(env.config_file, {"INTERPRETER_WIN": str(other)})
    assert states(inst.check(windows_env(tmp_path, runnable={str(other)})))["Python usato da Excel"] == inst.OK

    inst.write_config(env.config_file, {"INTERPRETER_WIN": r"C:\Python39\python.exe", "CONDA PATH": r"C:\conda",
                                        "CONDA ENV": "base", "UDF MODULES": "udfs.pecmass_udfs"})
    done = inst.install(env)
    assert inst.read_config(env.config_file) == {"UDF MODULES": "udfs.pecmass_udfs", "INTERPRETER_WIN": sys.executable}
    assert any(r"cambiato da C:\Python39\python.exe" in line for line in done)
    assert any("CONDA PATH" in line for line in done)


def test_a_folder_configuration_next_to_the_workbook_wins(tmp_path):
    env = windows_env(tmp_path)
    inst.install(env)
    workbook = tmp_path / "Campagne" / "campagna.xlsm"
    workbook.parent.mkdir()
    workbook.write_bytes(b"PK")
    (workbook.parent / "xlwings.conf").write_text('"INTERPRETER_WIN","C:\\Vecchio\\python.exe"\n', encoding="utf-8")
    finding = next(f for f in inst.check(env, workbook).findings if f.subject == "Python usato da Excel")
    assert finding.state == inst.TODO and "campagne" in finding.detail.lower()


@pytest.mark.parametrize("level, by_policy, state", [
    (1, False, inst.OK), (2, False, inst.OK), (3, False, inst.TODO), (4, False, inst.TODO), (4, True, inst.TODO),
])
def test_trust_center_levels_user_and_group_policy(tmp_path, level, by_policy, state):
    key = inst.POLICY if by_policy else inst.OFFICE
    env = windows_env(tmp_path, FakeRegistry({("HKCU", key): {"VBAWarnings": level}}))
    inst.install(env)
    finding = next(f for f in inst.check(env).findings if f.subject == "Centro protezione")
    assert finding.state == state
    assert ("criteri di gruppo" in finding.detail) is by_policy
    if state == inst.TODO:
        assert "Percorsi attendibili" in finding.todo
        assert ("amministratore" in finding.todo) is by_policy


def test_a_policy_overrides_the_users_own_setting(tmp_path):
    registry = FakeRegistry({("HKCU", inst.OFFICE): {"VBAWarnings": 1}, ("HKLM", inst.POLICY): {"VBAWarnings": 4}})
    env = windows_env(tmp_path, registry)
    inst.install(env)
    assert states(inst.check(env))["Centro protezione"] == inst.TODO


def test_a_workbook_in_a_trusted_location_runs_even_when_macros_are_disabled(tmp_path):
    campaigns = tmp_path / "Campagne PEC"
    (campaigns / "2026").mkdir(parents=True)
    workbook = campaigns / "2026" / "campagna.xlsm"
    workbook.write_bytes(b"PK")
    locations = inst.OFFICE + r"\Trusted Locations"
    registry = FakeRegistry({
        ("HKCU", inst.OFFICE): {"VBAWarnings": 4},
        ("HKCU", locations + r"\Location2"): {"Path": str(campaigns) + "\\", "AllowSubfolders": 1},
        ("HKCU", locations + r"\Location3"): {"Path": r"C:\Altro", "AllowSubfolders": 0},
    })
    env = windows_env(tmp_path, registry)
    inst.install(env)
    report = inst.check(env, workbook)
    assert states(report)["Centro protezione"] == inst.OK and report.ready
    assert str(campaigns) in next(f.detail for f in report.findings if f.subject == "Percorsi attendibili")
    registry.values[("HKCU", inst.POLICY + r"\Trusted Locations")] = {"AllLocationsDisabled": 1}
    report = inst.check(env, workbook)
    assert states(report)["Centro protezione"] == inst.TODO
    assert states(report)["Percorsi attendibili"] == inst.WARN


def test_mark_of_the_web_on_the_workbook_or_the_addin_is_reported_with_the_unblock_steps(tmp_path):
    workbook = tmp_path / "campagna.xlsm"
    workbook.write_bytes(b"PK")
    env = windows_env(tmp_path, zones={"campagna.xlsm": 3, "xlwings.xlam": 2})
    inst.install(env)
    report = inst.check(env, workbook)
    finding = next(f for f in report.findings if f.subject == "Contrassegno del Web: campagna.xlsm")
    assert finding.state == inst.TODO and "Internet" in finding.detail
    assert "Sblocca" in finding.todo and f'Unblock-File "{workbook}"' in finding.todo
    assert states(report)["Contrassegno del Web: xlwings.xlam"] == inst.OK  # zone 2 (trusted sites) does not block
    assert not report.ready


def test_the_zone_stream_is_parsed_as_windows_writes_it():
    stream = "[ZoneTransfer]\r\nZoneId=3\r\nReferrerUrl=https://posta.example/\r\nHostUrl=https://posta.example/a.xlsm\r\n"
    assert inst.zone_id(stream) == 3
    assert inst.zone_id("[ZoneTransfer]\r\n") is None
    assert inst.read_zone(Path("/nessun/file.xlsm")) is None


def test_a_python_with_pandas_gets_the_dedicated_environment_advice(tmp_path):
    env = windows_env(tmp_path, heavy={"pandas"})
    finding = next(f for f in inst.check(env).findings if f.subject == "Ambiente Python")
    assert finding.state == inst.WARN and "ambiente virtuale dedicato" in finding.todo


def test_mac_install_copies_the_addin_the_applescript_and_the_sandboxed_configuration(tmp_path):
    env = mac_env(tmp_path)
    assert states(inst.check(env))["Avvio di Python da Excel (Mac)"] == inst.TODO
    inst.install(env)
    startup = env.home / inst.MAC_STARTUP
    assert (startup / "xlwings.xlam").is_file()
    assert (env.home / inst.MAC_SCRIPTS / env.applescript_source.name).is_file()
    conf = env.home / "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"
    assert inst.read_config(conf) == {"INTERPRETER_MAC": sys.executable}
    report = inst.check(env)
    assert report.ready and "Centro protezione" not in states(report)


def test_a_locked_startup_folder_asks_to_close_excel(tmp_path, monkeypatch):
    env = windows_env(tmp_path)

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inst.shutil, "copyfile", refuse)
    from pecmass_xl.core.errors import CannotRun

    with pytest.raises(CannotRun, match="chiudete Excel"):
        inst.install(env)


def test_the_commands_print_italian_and_return_the_exit_code(tmp_path, capsys, monkeypatch):
    env = windows_env(tmp_path)
    monkeypatch.setattr(inst.Environment, "current", classmethod(lambda cls: env))
    assert main(["excel", "verifica"]) == 2
    out = capsys.readouterr().out
    assert "[DA FARE] Componente aggiuntivo xlwings" in out and "pecmass excel installa" in out
    out.encode("cp1252")  # a Windows console or a redirected file can show every character
    assert main(["excel", "installa"]) == 0
    out = capsys.readouterr().out
    assert "Componente aggiuntivo xlwings copiato" in out and "Tutto pronto" in out
    assert cli_excel.cmd_excel_check(type("A", (), {"cartella": None})(), env) == 0


def test_on_linux_there_is_nothing_to_install():
    env = inst.Environment(platform="linux", home=Path("/tmp"), appdata=None, executable=sys.executable)
    report = inst.check(env)
    assert not report.ready and "non esiste su questo sistema" in report.lines()[0]
    from pecmass_xl.core.errors import CannotRun

    with pytest.raises(CannotRun, match="Windows e macOS"):
        inst.install(env)


def test_a_policy_requiring_signed_addins_is_reported(tmp_path):
    env = windows_env(tmp_path, FakeRegistry({("HKCU", inst.POLICY): {"requireaddinsig": 1}}))
    inst.install(env)
    report = inst.check(env)
    assert states(report)["Criteri aziendali per i componenti aggiuntivi"] == inst.TODO and not report.ready

