"""`python -m classrec` is the `classrec` command."""

from classrec.cli import main

raise SystemExit(main())
