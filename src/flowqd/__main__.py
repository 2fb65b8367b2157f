"""``python -m flowqd``: the ``flowqd`` command (used by the console to start engine processes)."""

from flowqd.cli import main

raise SystemExit(main())
