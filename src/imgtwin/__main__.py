from imgtwin.cli import main

raise SystemExit(main())
