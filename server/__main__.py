"""`python -m server` is `huddle-server`."""

from server.cli import main

raise SystemExit(main())
