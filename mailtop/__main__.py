from mailtop.cli import main

raise SystemExit(main())
