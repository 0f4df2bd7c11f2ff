"""``python -m kairos``: the ``kairos`` command line."""

import sys

from kairos._cli import main

sys.exit(main())
