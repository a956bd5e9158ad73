"""`python -m pecmass_xl.excel.build [OUT]`: the template builder's entry point next to its sources.

The builder is the use case `pecmass_xl.app.template` (also behind `pecmass build-template`); this
module only forwards, so the command in the README and in people's habits keeps working.
"""

from __future__ import annotations

from pecmass_xl.app.template import (
    EXCEL_DIR,
    PACKAGE_TEMPLATE,
    RIBBON_FILE,
    SHEET_CODE_NAMES,
    TEMPLATE_NAME,
    VBA_DIR,
    build_template,
    default_outputs,
    main,
    repo_root,
    write_template,
)

__all__ = ["EXCEL_DIR", "PACKAGE_TEMPLATE", "RIBBON_FILE", "SHEET_CODE_NAMES", "TEMPLATE_NAME", "VBA_DIR",
           "build_template", "default_outputs", "main", "repo_root", "write_template"]

if __name__ == "__main__":
    raise SystemExit(main())
