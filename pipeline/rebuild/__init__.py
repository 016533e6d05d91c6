"""One mailbox rebuilt end to end, and what a run needs beside its stages (order.py: the order it goes in)."""
