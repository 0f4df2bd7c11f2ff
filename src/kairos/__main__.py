"""``python -m kairos``: the ``kairos`` command line."""

import sys

from kairos.cli import main

sys.exit(main())
