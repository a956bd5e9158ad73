from pecmass_xl.cli import main

raise SystemExit(main())
