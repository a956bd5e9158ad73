"""Runs the workbook's VBA inside LibreOffice (headless) and reports what it did, as JSON.

Started by test_excel_libreoffice.py with a Python that has the UNO bridge (Debian: python3-uno,
usually /usr/bin/python3), not with the project's interpreter:

    python3 lo_probe.py WORKBOOK.xlsm PROFILE_DIR PLAN.json RESULT.json

PLAN.json: {"calls": [[name, [args...]], ...],
            "inserts": [[sheet, cell, header], ...]}   # select the cell, run InsertPlaceholder
RESULT.json: {"modules": [...], "calls": [...], "cells": {"Sheet!B5": text, ...}}

LibreOffice imports Excel VBA with `Option VBASupport 1` and runs it with its own interpreter: this
proves the code parses and the logic works with Excel's object model as LibreOffice emulates it,
not that Excel compiles it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import uno  # noqa: F401  (python3-uno)
from com.sun.star.beans import PropertyValue

ALWAYS_EXECUTE_NO_WARN = 4
MODULE = "PecMassiva"


def _prop(name, value):
    prop = PropertyValue()
    prop.Name, prop.Value = name, value
    return prop


def _connect(pipe: str, deadline: float):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def main() -> int:
    workbook, profile, plan_path, result_path = sys.argv[1:5]
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    pipe = f"pecmass_probe_{os.getpid()}"
    soffice = subprocess.Popen(
        ["soffice", f"-env:UserInstallation={uno.systemPathToFileUrl(os.path.abspath(profile))}",
         "--headless", "--invisible", "--norestore", "--nologo", f"--accept=pipe,name={pipe};urp;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        context = _connect(pipe, time.time() + 60)
        desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(os.path.abspath(workbook)), "_blank", 0,
            (_prop("Hidden", True), _prop("MacroExecutionMode", ALWAYS_EXECUTE_NO_WARN)),
        )
        result = {"modules": sorted(doc.BasicLibraries.getByName("VBAProject").getElementNames()),
                  "calls": [], "cells": {}}
        provider = doc.getScriptProvider()

        def call(name, args):
            script = provider.getScript(
                f"vnd.sun.star.script:VBAProject.{MODULE}.{name}?language=Basic&location=document")
            return script.invoke(tuple(args), (), ())[0]

        for name, args in plan.get("calls", []):
            result["calls"].append(call(name, args))
        controller = doc.getCurrentController()
        for sheet_name, cell_name, header in plan.get("inserts", []):
            sheet = doc.Sheets.getByName(sheet_name)
            controller.setActiveSheet(sheet)
            cell = sheet.getCellRangeByName(cell_name)
            controller.select(cell)
            call("InsertPlaceholder", [header])
            result["cells"][f"{sheet_name}!{cell_name}"] = cell.getString()
        doc.close(True)
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001 - the bridge drops while LibreOffice quits
            pass  # the bridge drops while LibreOffice quits
        with open(result_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, ensure_ascii=False)
        return 0
    finally:
        try:
            soffice.wait(timeout=30)
        except subprocess.TimeoutExpired:
            soffice.kill()
            soffice.wait()


if __name__ == "__main__":
    raise SystemExit(main())
