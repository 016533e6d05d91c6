"""This machine's processes: the conversion pool a run feeds (conversion_pool.py) and how Ctrl-C and SIGTERM
reach the parent and not its worker processes (interrupts.py). Used by a run, the address books and the
executors alike, below all of them.
"""
