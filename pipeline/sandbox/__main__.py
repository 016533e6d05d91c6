"""`python -m pipeline.sandbox serve ...`: the sandbox's own entry point, used for subprocess servers.

It takes the same sub-commands as `rebuild sandbox`, without the rest of the rebuild CLI.
"""

from __future__ import annotations

import sys

from pipeline.sandbox.cli import standalone_main

if __name__ == "__main__":
    sys.exit(standalone_main(sys.argv[1:]))
