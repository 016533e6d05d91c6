"""`python -m pipeline`: the same as the `rebuild` console script.

Guarded, because conversion worker processes re-import the main module when they start. For the main job,
SIGTERM is turned into a clean stop first thing (pipeline/processes/interrupts.py), before the imports.
"""

import sys

if __name__ == "__main__":
    from pipeline.processes.interrupts import is_main_job, stop_on_terminate

    if is_main_job(sys.argv[1:]):
        stop_on_terminate()

from pipeline.cli.main import main  # noqa: E402 - after the signal handler, which must not wait for the imports

if __name__ == "__main__":
    sys.exit(main())
