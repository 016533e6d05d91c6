"""One mailbox rebuilt end to end, and what only a run needs beside its stages.

run.py wires source, conversion and a destination for one mailbox (the only module that does); order.py is
the order it goes in (usable first); status.py names how a run ended; address_books.py reads the book a run
converts with (and --map's survey, one opening per file); large_items.py keeps what no server takes;
verify.py compares a source with its mailbox, without the journal.
"""
