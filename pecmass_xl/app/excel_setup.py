"""Installing and checking what the ribbon buttons need on a user's computer (`pecmass excel ...`): the
use case behind `pecmass excel installa` and `verifica`.

The buttons run `RunPython` in the xlwings add-in, which starts the interpreter named in the user's
xlwings configuration. So a button works only when: the add-in is in Excel's start-up folder
(XLSTART), on the Mac the AppleScript RunPython needs is installed, the configured interpreter exists
and has pecmass, and Excel lets the workbook's macros run (Trust Center level, Group Policy, Mark of
the Web, trusted locations). `install()` does what `xlwings addin install` does without needing Excel
to be running (and also replaces a stale interpreter); `check()` reports each point in Italian with
what to do. Every outside fact comes through `Environment`, so tests use a fake registry and a fake
zone stream (`Zone.Identifier`) instead of Windows.

Paths and keys, read from xlwings 0.37.8 and Microsoft's documentation:
- add-in: `xlwings/addin/xlwings.xlam`, copied by `xlwings addin install` (`cli.py`, `_addin_install`)
  into `app.startup_path`: `%APPDATA%\\Microsoft\\Excel\\XLSTART` on Windows,
  `~/Library/Group Containers/UBF8T346G9.Office/User Content.localized/Startup.localized/Excel` on the Mac;
- RunPython on the Mac: `xlwings-<version>.applescript` in `~/Library/Application Scripts/com.microsoft.Excel`
  (`cli.py`, `runpython_install`);
- user configuration: `xlwings.USER_CONFIG_FILE` (`__init__.py`): `~/.xlwings/xlwings.conf` on Windows,
  `~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf` on the Mac; `"KEY","value"` lines;
  RunPython reads `INTERPRETER_WIN`/`INTERPRETER_MAC`, then the legacy `INTERPRETER`, else runs
  `python` from PATH; `CONDA PATH` + `CONDA ENV` take precedence on Windows (`addin/Main.bas`);
- Trust Center: `HKCU\\Software\\Microsoft\\Office\\16.0\\Excel\\Security\\VBAWarnings` (1 all macros run,
  2 disabled with a notification bar: the default, 3 only digitally signed ones, 4 all disabled), the
  same value under `Software\\Policies\\...` (Group Policy, which wins); `blockcontentexecutionfrominternet`
  (policy); trusted locations under `...\\Security\\Trusted Locations\\<name>` (`Path`, `AllowSubfolders`),
  `AllLocationsDisabled` (policy); `requireaddinsig` (policy: add-ins must be signed by a trusted
  publisher, which blocks the unsigned xlwings add-in);
- Mark of the Web: the NTFS stream `<file>:Zone.Identifier`, `ZoneId=3` (Internet) or 4 (Restricted) blocks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

OFFICE = r"Software\Microsoft\Office\16.0\Excel\Security"  # Office 2016, 2019, 2021, 2024 and 365
POLICY = r"Software\Policies\Microsoft\Office\16.0\Excel\Security"
MAC_STARTUP = "Library/Group Containers/UBF8T346G9.Office/User Content.localized/Startup.localized/Excel"
MAC_SCRIPTS = "Library/Application Scripts/com.microsoft.Excel"
MAC_CONFIG = "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"
ADDIN = "xlwings.xlam"
BLOCKING_ZONES = {3: "Internet", 4: "siti con restrizioni"}
HEAVY_PACKAGES = ("pandas", "matplotlib")  # `import xlwings` imports them when present (main.py, top)

OK, TODO, WARN = "OK", "DA FARE", "ATTENZIONE"


class Registry(Protocol):
    """The part of the Windows registry read here; `hive` is "HKCU" or "HKLM"."""

    def value(self, hive: str, key: str, name: str) -> Any | None: ...
    def subkeys(self, hive: str, key: str) -> list[str]: ...


class WindowsRegistry:
    """The real registry, read-only (Windows only)."""

    def value(self, hive: str, key: str, name: str) -> Any | None:
        import winreg  # type: ignore[import-not-found]

        root = winreg.HKEY_CURRENT_USER if hive == "HKCU" else winreg.HKEY_LOCAL_MACHINE
        try:
            with winreg.OpenKey(root, key) as handle:
                return winreg.QueryValueEx(handle, name)[0]
        except OSError:
            return None

    def subkeys(self, hive: str, key: str) -> list[str]:
        import winreg  # type: ignore[import-not-found]

        root = winreg.HKEY_CURRENT_USER if hive == "HKCU" else winreg.HKEY_LOCAL_MACHINE
        names: list[str] = []
        try:
            with winreg.OpenKey(root, key) as handle:
                index = 0
                while True:
                    try:
                        names.append(winreg.EnumKey(handle, index))
                    except OSError:
                        return names
                    index += 1
        except OSError:
            return names


def read_zone(path: Path) -> int | None:
    """The Mark of the Web of a file: `ZoneId` in its `Zone.Identifier` stream (NTFS), or None."""
    try:
        text = Path(f"{path}:Zone.Identifier").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return zone_id(text)


def zone_id(stream: str) -> int | None:
    found = re.search(r"^\s*ZoneId\s*=\s*(\d+)", stream, re.MULTILINE)
    return int(found.group(1)) if found else None


def imports_pecmass(interpreter: str) -> bool:
    """Whether `interpreter` can import pecmass and xlwings (what RunPython will need)."""
    try:
        done = subprocess.run([interpreter, "-c", "import pecmass_xl, xlwings"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@dataclass
class Environment:
    """Everything outside pecmass that the checks read: replaced by fakes in tests."""

    platform: str
    home: Path
    appdata: Path | None
    executable: str
    registry: Registry | None = None
    zone_of: Callable[[Path], int | None] = read_zone
    can_run: Callable[[str], bool] = imports_pecmass
    has_module: Callable[[str], bool] = field(default=lambda name: _has_module(name))
    addin_source: Path | None = None
    applescript_source: Path | None = None

    @classmethod
    def current(cls) -> Environment:
        appdata = os.environ.get("APPDATA")
        return cls(platform=sys.platform, home=Path.home(), appdata=Path(appdata) if appdata else None,
                   executable=sys.executable,
                   registry=WindowsRegistry() if sys.platform.startswith("win") else None,
                   addin_source=_xlwings_file("addin", ADDIN), applescript_source=_applescript())

    @property
    def windows(self) -> bool:
        return self.platform.startswith("win")

    @property
    def mac(self) -> bool:
        return self.platform == "darwin"

    @property
    def startup_folder(self) -> Path | None:
        """Excel's per-user start-up folder (XLSTART), where the add-in goes."""
        if self.windows:
            return (self.appdata or self.home / "AppData" / "Roaming") / "Microsoft" / "Excel" / "XLSTART"
        if self.mac:
            return self.home / MAC_STARTUP
        return None

    @property
    def config_file(self) -> Path:
        return self.home / MAC_CONFIG if self.mac else self.home / ".xlwings" / "xlwings.conf"

    @property
    def interpreter_key(self) -> str:
        return "INTERPRETER_MAC" if self.mac else "INTERPRETER_WIN"


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _xlwings_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("xlwings")
    return Path(spec.origin).parent if spec and spec.origin else None


def _xlwings_file(*parts: str) -> Path | None:
    folder = _xlwings_dir()
    return folder.joinpath(*parts) if folder else None


def _applescript() -> Path | None:
    folder = _xlwings_dir()
    found = sorted(folder.glob("xlwings-*.applescript")) if folder else []
    return found[-1] if found else None


# ---------------------------------------------------------------------------------------- config file
def read_config(path: Path) -> dict[str, str]:
    """xlwings' `"KEY","value"` lines (VBA `Write #`), keys upper-cased as `GetConfig` does."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        found = re.fullmatch(r'\s*"([^"]*)"\s*,\s*"(.*)"\s*', line)
        if found:
            values[found.group(1).upper()] = found.group(2)
    return values


def write_config(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'"{key}","{value}"\n' for key, value in values.items()), encoding="utf-8")


def _expand(value: str, env: Environment) -> str:
    """`%VAR%` (Windows) and `$HOME` (Mac) as the add-in expands them."""
    if env.mac:
        return value.replace("$HOME", str(env.home))
    return re.sub(r"%([^%]+)%", lambda m: os.environ.get(m.group(1), m.group(0)), value)


# ---------------------------------------------------------------------------------------- report
@dataclass
class Finding:
    state: str  # OK, DA FARE, ATTENZIONE
    subject: str
    detail: str
    todo: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    applicable: bool = True  # False where Excel does not exist (Linux)

    def add(self, state: str, subject: str, detail: str, todo: str = "") -> None:
        self.findings.append(Finding(state, subject, detail, todo))

    @property
    def ready(self) -> bool:
        return self.applicable and all(f.state != TODO for f in self.findings)

    def lines(self) -> list[str]:
        out = []
        for f in self.findings:
            out.append(f"[{f.state}] {f.subject}: {f.detail}")
            if f.todo:
                out += [f"      Cosa fare: {line}" if n == 0 else f"                 {line}"
                        for n, line in enumerate(f.todo.splitlines())]
        out.append("")
        if not self.applicable:
            return out
        out.append("Tutto pronto: i pulsanti di PEC Massiva possono funzionare." if self.ready else
                   "Qualcosa va sistemato: seguite le indicazioni «Cosa fare» qui sopra, poi ripetete "
                   "«pecmass excel verifica».")
        return out


# ---------------------------------------------------------------------------------------- install
def install(env: Environment) -> list[str]:
    """Copy the add-in (and on the Mac the RunPython AppleScript), point xlwings at this Python."""
    done: list[str] = []
    startup = env.startup_folder
    if startup is None:
        raise _cannot("Excel esiste solo per Windows e macOS: su questo sistema non c'è nulla da installare.")
    if env.addin_source is None or not env.addin_source.is_file():
        raise _cannot("Il componente aggiuntivo di xlwings non si trova: reinstallate pecmass (che installa xlwings).")
    try:
        startup.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(env.addin_source, startup / ADDIN)
    except PermissionError as exc:
        raise _cannot(f"Non riesco a copiare {ADDIN} in {startup}: chiudete Excel e riprovate.") from exc
    done.append(f"Componente aggiuntivo xlwings copiato in {startup}.")
    if env.mac:
        if env.applescript_source is None:
            raise _cannot("Lo script AppleScript di xlwings non si trova: reinstallate pecmass.")
        scripts = env.home / MAC_SCRIPTS
        scripts.mkdir(parents=True, exist_ok=True)
        shutil.copy(env.applescript_source, scripts)
        done.append(f"Script per avviare Python da Excel copiato in {scripts}.")
    config = read_config(env.config_file)
    previous = config.get(env.interpreter_key)
    removed = [key for key in ("CONDA PATH", "CONDA ENV", "INTERPRETER") if config.pop(key, None) is not None]
    config[env.interpreter_key] = env.executable
    write_config(env.config_file, config)
    if previous and previous != env.executable:
        done.append(f"Python usato da Excel cambiato da {previous} a {env.executable} ({env.config_file}).")
    else:
        done.append(f"Python usato da Excel: {env.executable} ({env.config_file}).")
    if removed:
        done.append(f"Tolte dalla configurazione le voci {', '.join(removed)}, che sceglievano un altro Python.")
    done.append("Chiudete e riaprite Excel" + (" (Cmd-Q, poi riapritelo)." if env.mac else "."))
    return done


def _cannot(text: str) -> Exception:
    from pecmass_xl.core.errors import CannotRun

    return CannotRun(text)


# ---------------------------------------------------------------------------------------- check
def check(env: Environment, workbook: Path | None = None) -> Report:
    report = Report()
    if not (env.windows or env.mac):
        report.add(WARN, "Sistema", "Excel non esiste su questo sistema: i controlli valgono per Windows e macOS.")
        report.applicable = False
        return report
    _check_addin(env, report)
    _check_interpreter(env, report, workbook)
    _check_python(env, report)
    if env.windows:
        _check_trust_center(env, report, workbook)
        _check_marks_of_the_web(env, report, workbook)
    else:
        report.add(OK, "Macro", "su Mac Excel chiede di abilitare le macro all'apertura del file: rispondete «Abilita macro».")
    return report


def _check_addin(env: Environment, report: Report) -> None:
    installed = env.startup_folder / ADDIN
    if not installed.is_file():
        report.add(TODO, "Componente aggiuntivo xlwings", f"non installato in {env.startup_folder}.",
                   "pecmass excel installa")
    elif env.addin_source and env.addin_source.is_file() and installed.read_bytes() != env.addin_source.read_bytes():
        report.add(WARN, "Componente aggiuntivo xlwings",
                   f"in {env.startup_folder} c'è una versione diversa da quella di xlwings installato con pecmass.",
                   "pecmass excel installa (con Excel chiuso)")
    else:
        report.add(OK, "Componente aggiuntivo xlwings", f"installato in {env.startup_folder}.")
    if env.mac:
        scripts = env.home / MAC_SCRIPTS
        if not any(scripts.glob("xlwings-*.applescript")):
            report.add(TODO, "Avvio di Python da Excel (Mac)", f"manca lo script xlwings in {scripts}.",
                       "pecmass excel installa")
        elif env.applescript_source and not (scripts / env.applescript_source.name).is_file():
            report.add(TODO, "Avvio di Python da Excel (Mac)",
                       f"lo script in {scripts} è di un'altra versione di xlwings.", "pecmass excel installa")
        else:
            report.add(OK, "Avvio di Python da Excel (Mac)", f"script xlwings presente in {scripts}.")


def _check_interpreter(env: Environment, report: Report, workbook: Path | None) -> None:
    subject = "Python usato da Excel"
    sources = [env.config_file]
    if workbook is not None:
        sources.insert(0, workbook.parent / "xlwings.conf")  # a folder's configuration wins (Config.bas)
    for path in sources:
        config = read_config(path)
        if env.windows and config.get("CONDA PATH") and config.get("CONDA ENV"):
            report.add(WARN, subject, f"{path} usa l'ambiente conda «{config['CONDA ENV']}».",
                       "Se pecmass non è installato in quell'ambiente: pecmass excel installa "
                       "(dall'ambiente in cui avete installato pecmass).")
            return
        chosen = config.get(env.interpreter_key) or config.get("INTERPRETER")
        if not chosen:
            continue
        interpreter = _expand(chosen, env)
        if not Path(interpreter).is_file():
            report.add(TODO, subject, f"{path} indica {interpreter}, che non esiste più.",
                       "pecmass excel installa (dall'ambiente in cui avete installato pecmass)")
        elif os.path.normcase(interpreter) == os.path.normcase(env.executable) or env.can_run(interpreter):
            report.add(OK, subject, f"{interpreter} ({path}).")
        else:
            report.add(TODO, subject, f"{path} indica {interpreter}, in cui pecmass non è installato.",
                       "pecmass excel installa (dall'ambiente in cui avete installato pecmass)")
        return
    report.add(TODO, subject, f"nessun interprete configurato in {env.config_file}: Excel userebbe il primo "
               "«python» del sistema, che di solito non ha pecmass.", "pecmass excel installa")


def _check_python(env: Environment, report: Report) -> None:
    heavy = [name for name in HEAVY_PACKAGES if env.has_module(name)]
    if heavy:
        report.add(WARN, "Ambiente Python", f"contiene {', '.join(heavy)}: xlwings li importa a ogni pulsante, "
                   "che diventa lento.", "Installate pecmass in un ambiente virtuale dedicato (vedi README), "
                   "poi pecmass excel installa da lì.")
    else:
        report.add(OK, "Ambiente Python", f"{env.executable}.")


def _registry_value(env: Environment, name: str, key: str = OFFICE, policy_key: str = POLICY) -> tuple[Any, bool]:
    """(value, set by Group Policy): the policy wins over the user's own setting."""
    registry = env.registry
    if registry is None:
        return None, False
    for hive in ("HKCU", "HKLM"):
        value = registry.value(hive, policy_key, name)
        if value is not None:
            return value, True
    return registry.value("HKCU", key, name), False


MACRO_LEVELS = {
    1: "tutte le macro sono attive (sconsigliato, ma i pulsanti funzionano)",
    2: "macro disattivate con notifica: all'apertura cliccate «Abilita contenuto»",
    3: "solo macro con firma digitale: il modello di pecmass non è firmato",
    4: "tutte le macro disattivate senza notifica",
}


def _check_trust_center(env: Environment, report: Report, workbook: Path | None) -> None:
    level, by_policy = _registry_value(env, "VBAWarnings")
    level = int(level) if level is not None else 2
    locations = _trusted_locations(env)
    trusted = workbook is not None and any(_inside(workbook, path, sub) for path, sub in locations)
    origin = " (impostato dall'amministratore con criteri di gruppo)" if by_policy else ""
    text = f"{MACRO_LEVELS.get(level, f'livello {level}')}{origin}."
    if level in (3, 4) and not trusted:
        todo = ("Salvate le campagne in un percorso attendibile (File > Opzioni > Centro protezione > "
                "Impostazioni Centro protezione > Percorsi attendibili)")
        todo += ", chiedendolo all'amministratore." if by_policy else (
            ", oppure scegliete «Disattiva macro con notifica» in Impostazioni macro.")
        report.add(TODO, "Centro protezione", text, todo)
    else:
        report.add(OK, "Centro protezione", text + (" La cartella di lavoro è in un percorso attendibile." if trusted else ""))
    if _registry_value(env, "requireaddinsig")[0] == 1:
        report.add(TODO, "Criteri aziendali per i componenti aggiuntivi",
                   "l'amministratore richiede componenti aggiuntivi firmati da un editore attendibile: "
                   "quello di xlwings non è firmato e non viene caricato.",
                   "Chiedete all'amministratore un'eccezione per xlwings.xlam (o per la cartella XLSTART).")
    if locations:
        listed = "; ".join(f"{path}{' (e sottocartelle)' if sub else ''}" for path, sub in locations)
        report.add(OK, "Percorsi attendibili", listed + ".")
    elif _registry_value(env, "AllLocationsDisabled", OFFICE + r"\Trusted Locations", POLICY + r"\Trusted Locations")[0] == 1:
        report.add(WARN, "Percorsi attendibili", "disattivati dall'amministratore.")


def _trusted_locations(env: Environment) -> list[tuple[str, bool]]:
    registry = env.registry
    if registry is None:
        return []
    disabled, _ = _registry_value(env, "AllLocationsDisabled", OFFICE + r"\Trusted Locations", POLICY + r"\Trusted Locations")
    if disabled == 1:
        return []
    found: list[tuple[str, bool]] = []
    for hive, base in (("HKCU", OFFICE), ("HKCU", POLICY), ("HKLM", POLICY)):
        key = base + r"\Trusted Locations"
        for name in registry.subkeys(hive, key):
            path = registry.value(hive, f"{key}\\{name}", "Path")
            if path:
                found.append((_expand(str(path), env), bool(registry.value(hive, f"{key}\\{name}", "AllowSubfolders"))))
    return found


def _inside(workbook: Path, location: str, subfolders: bool) -> bool:
    folder = os.path.normcase(str(workbook.parent)).rstrip("\\/")
    root = os.path.normcase(location).rstrip("\\/")
    return folder == root or (subfolders and folder.startswith(root + ("\\" if "\\" in root else "/")))


def _check_marks_of_the_web(env: Environment, report: Report, workbook: Path | None) -> None:
    blocked_by_policy, _ = _registry_value(env, "blockcontentexecutionfrominternet")
    files = [(env.startup_folder / ADDIN, "Il componente aggiuntivo")]
    if workbook is not None:
        files.insert(0, (workbook, "La cartella di lavoro"))
    for path, what in files:
        if not path.is_file():
            continue
        zone = env.zone_of(path)
        if zone in BLOCKING_ZONES:
            report.add(TODO, f"Contrassegno del Web: {path.name}",
                       f"{what} viene da Internet (zona {BLOCKING_ZONES[zone]}): Excel blocca le sue macro"
                       + (" (regola aziendale)" if blocked_by_policy == 1 else "") + ".",
                       f"Con Excel chiuso: tasto destro sul file > Proprietà > Generale > Sblocca > OK,\n"
                       f"oppure in PowerShell: Unblock-File \"{path}\"")
        else:
            report.add(OK, f"Contrassegno del Web: {path.name}", "nessun blocco.")
