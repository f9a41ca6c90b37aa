"""`python -m api.cli` is the `aiod-kg` command."""

from api.cli.main import main

raise SystemExit(main())
