"""``python -m blissnode`` runs the ``blissnode`` command."""

import sys

from blissnode.cli.main import main

sys.exit(main())
