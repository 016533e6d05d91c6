"""How folder names are compared when looking for an existing folder under a parent.

Exchange refuses a sibling whose name differs only in case (ErrorFolderExists), but documents no folding
rule; Python's casefold would equate 'Straße' and 'Strasse', which Exchange keeps apart, and so merge two
source folders into one. Comparing one character at a time by its simple upper-case form equates exactly
the names that differ in case.
"""

from __future__ import annotations


def folder_key(name: str) -> str:
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in name)
