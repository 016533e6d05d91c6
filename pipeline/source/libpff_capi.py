"""libpff's C API as the installed pypff extension module exports it, for what pypff's Python API does not offer
(embedded messages: embedded.py; folder-associated contents: pff_associated.py).

On Linux and macOS the extension module exports every libpff function and pypff's own object constructor, so
ctypes calls them on the libpff_item_t* a pypff object holds and wraps what they return as pypff objects. A
Windows wheel builds libpff into the .pyd without exporting it: there `CApiUnavailable` says so (its `reason`
one line), and the callers fall back (no embedded message, no associated contents). A separately installed
libpff would be another copy of the library: its functions must never be handed pypff's item pointers.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

import pypff


class CApiUnavailable(RuntimeError):
    """The pypff extension module does not export the libpff function needed (`name`), for `reason`."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} is not reachable through pypff: {reason}")
        self.name = name
        self.reason = reason


@cache
def _library() -> Any:
    return ctypes.PyDLL(pypff.__file__)  # PyDLL: pypff_item_new needs the GIL held


@cache
def function(name: str, argtypes: tuple[Any, ...], restype: Any = ctypes.c_int) -> Any:
    """The exported C function `name`, typed; CApiUnavailable when the module cannot be loaded by ctypes or
    does not export it."""
    try:
        lib = _library()
    except OSError as exc:
        raise CApiUnavailable(name, f"ctypes cannot load {pypff.__file__} ({exc})") from None
    try:
        found = getattr(lib, name)
    except AttributeError:
        where = "a Windows build of pypff keeps libpff inside its .pyd" if sys.platform == "win32" else "this build"
        raise CApiUnavailable(name, f"pypff {pypff.get_version()} does not export it ({where})") from None
    found.argtypes = list(argtypes)
    found.restype = restype
    return found


@cache
def message_type() -> int:
    """The address of pypff's message type object, for pypff_item_new."""
    try:
        return ctypes.addressof(ctypes.c_void_p.in_dll(_library(), "pypff_message_type_object"))
    except (OSError, ValueError) as exc:
        raise CApiUnavailable("pypff_message_type_object", f"pypff does not export it ({exc})") from None


def as_message(item: ctypes.c_void_p, parent: Any) -> Any:
    """A libpff_item_t* libpff handed out, as a pypff.message that owns it (frees it) and keeps `parent` alive."""
    new = function("pypff_item_new", (ctypes.c_void_p, ctypes.c_void_p, ctypes.py_object), ctypes.py_object)
    return new(message_type(), item, parent)


def free_error(error: ctypes.c_void_p) -> None:
    """Frees the libpff_error_t a failed call left (libpff allocates one per failure)."""
    if error:
        function("libpff_error_free", (ctypes.POINTER(ctypes.c_void_p),))(ctypes.byref(error))


def item_pointer(obj: Any) -> int:
    """The libpff_item_t* held by a pypff item object (its first field after PyObject_HEAD)."""
    if not isinstance(obj, pypff.item):
        raise TypeError("not a pypff item")
    pointer = ctypes.c_void_p.from_address(id(obj) + object.__basicsize__).value
    if not pointer:
        raise ValueError("the pypff object holds no libpff item")
    return pointer
