"""The state directory (`--state`, default ./.rebuild): the journal, owner-only files, files written whole,
and what went wrong with it (a full disk, a lock, a damaged journal) as one line saying what to do.
"""
