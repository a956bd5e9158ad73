from pecmass_xl.cli.main import main

raise SystemExit(main())
