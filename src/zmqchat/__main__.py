"""``python -m zmqchat`` is the ``zmqchat`` command."""

from zmqchat.cli import main

raise SystemExit(main())
