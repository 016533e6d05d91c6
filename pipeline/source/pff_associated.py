"""A folder's associated (FAI) contents through libpff, which pypff's Python API does not offer.

libpff_folder_get_number_of_sub_associated_contents() and libpff_folder_get_sub_associated_content() are
called through ctypes (libpff_capi.py) on the folder a pypff.folder holds; each entry comes back as a
pypff.message the libpff reader reads like any other. Where pypff does not export libpff's C API (Windows
wheels) `unavailable()` gives the one-line reason and the libpff reader reports it instead of the contents.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

from pipeline.source import libpff_capi

_COUNT = "libpff_folder_get_number_of_sub_associated_contents"
_ENTRY = "libpff_folder_get_sub_associated_content"
_COUNT_ARGS = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_void_p))
_ENTRY_ARGS = (ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p))


class AssociatedContentsError(OSError):
    """libpff could not read the associated contents table (`index` None) or the entry at `index` of it."""

    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


@cache
def unavailable() -> str | None:
    """Why the libpff reader cannot reach associated contents on this machine, or None when it can."""
    try:
        libpff_capi.function(_COUNT, _COUNT_ARGS)
        libpff_capi.function(_ENTRY, _ENTRY_ARGS)
        libpff_capi.function("pypff_item_new", (ctypes.c_void_p, ctypes.c_void_p, ctypes.py_object), ctypes.py_object)
        libpff_capi.message_type()
    except libpff_capi.CApiUnavailable as exc:
        return str(exc)
    return None


def count(folder: Any) -> int:
    """How many associated messages libpff lists for the folder (a pypff.folder)."""
    number = ctypes.c_int(0)
    error = ctypes.c_void_p()
    get_count = libpff_capi.function(_COUNT, _COUNT_ARGS)
    if get_count(libpff_capi.item_pointer(folder), ctypes.byref(number), ctypes.byref(error)) != 1:
        libpff_capi.free_error(error)
        raise AssociatedContentsError(None, "libpff cannot read the folder's associated contents table")
    return number.value


def entry(folder: Any, index: int) -> Any:
    """The folder's associated message at `index` as a pypff.message (it keeps the folder alive)."""
    item = ctypes.c_void_p()
    error = ctypes.c_void_p()
    get_entry = libpff_capi.function(_ENTRY, _ENTRY_ARGS)
    if get_entry(libpff_capi.item_pointer(folder), index, ctypes.byref(item), ctypes.byref(error)) != 1:
        libpff_capi.free_error(error)
        raise AssociatedContentsError(index, "libpff cannot open it")
    return libpff_capi.as_message(item, folder)
