from smtpshell.cli.main import main

raise SystemExit(main())
