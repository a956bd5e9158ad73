"""The masked password dialog, shown for real on a virtual display (Xvfb).

Skipped with a visible reason when Xvfb or tkinter is missing; under .ci/run (PECMASS_CI=1), which
installs both, a missing one fails the test instead.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from fixture_files import require_module, require_tool


@pytest.fixture(scope="module")
def display():
    require_tool("Xvfb", "xvfb")
    require_module("tkinter", "python3-tk")
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    try:
        import tkinter

        for _ in range(50):  # wait for the server to accept connections
            try:
                tkinter.Tk().destroy()
                break
            except tkinter.TclError:
                time.sleep(0.1)
        yield f":{number}"
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        server.terminate()
        server.wait(timeout=10)


def test_password_is_typed_masked_and_returned(display):
    from pecmass_xl.excel.dialogs import PasswordDialog

    dialog = PasswordDialog("Password della casella PEC studio@pec.test:")
    assert dialog.entry.cget("show") == "•"  # masked

    def type_and_save():
        dialog.entry.insert(0, "s3greta!")
        dialog.root.event_generate("<Return>")

    dialog.root.after(100, type_and_save)
    assert dialog.run() == "s3greta!"


def test_cancel_returns_nothing(display, monkeypatch):
    from pecmass_xl.excel.dialogs import PasswordDialog, ask_password

    dialog = PasswordDialog("Password:")
    dialog.root.after(100, lambda: (dialog.entry.insert(0, "non salvare"), dialog.root.event_generate("<Escape>")))
    assert dialog.run() is None

    import pecmass_xl.excel.dialogs as dialogs

    original = dialogs.PasswordDialog

    class Empty(original):
        def run(self):
            self.root.after(50, self.accept)
            return super().run()

    monkeypatch.setattr(dialogs, "PasswordDialog", Empty)
    assert ask_password("Password:") is None  # empty means nothing to store
