"""``python -m suite.cli``: the same as the ``suite`` console script."""

import sys

from suite.cli.main import main

sys.exit(main())
