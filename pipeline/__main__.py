"""`python -m pipeline`: the same as the `rebuild` console script.

Used by tests to run the CLI as a real process with the test interpreter.
"""

import sys

from pipeline.cli import main

sys.exit(main())
