"""`python -m pipeline`: the same as the `rebuild` console script.

Guarded, because conversion worker processes re-import the main module when they start.
"""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
