"""Access to embedded messages (attach method 5), which pypff's Python API does not offer.

The installed extension module exports the libpff C API and pypff's own object constructor, so we call
libpff_attachment_get_item() through ctypes and wrap the result as a pypff.message.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

import pypff


class EmbeddedMessageError(RuntimeError):
    """libpff could not open the embedded message of an attachment."""


@cache
def _api() -> tuple[Any, int]:
    lib = ctypes.PyDLL(pypff.__file__)
    lib.libpff_attachment_get_item.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.libpff_attachment_get_item.restype = ctypes.c_int
    lib.libpff_attachment_get_type.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.libpff_attachment_get_type.restype = ctypes.c_int
    lib.libpff_error_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.libpff_error_free.restype = ctypes.c_int
    lib.pypff_item_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.py_object]
    lib.pypff_item_new.restype = ctypes.py_object
    message_type = ctypes.addressof(ctypes.c_void_p.in_dll(lib, "pypff_message_type_object"))
    return lib, message_type


def _item_pointer(obj: Any) -> int:
    """The libpff_item_t* held by a pypff item object (its first field after PyObject_HEAD)."""
    if not isinstance(obj, pypff.item):
        raise TypeError("not a pypff item")
    pointer = ctypes.c_void_p.from_address(id(obj) + object.__basicsize__).value
    if not pointer:
        raise EmbeddedMessageError("attachment has no libpff item")
    return pointer


def attachment_type(attachment: Any) -> str:
    """libpff's attachment type: 'd' data, 'i' item (embedded message), 'r' reference, '\\0' unknown."""
    lib, _ = _api()
    value = ctypes.c_int(0)
    error = ctypes.c_void_p()
    if lib.libpff_attachment_get_type(_item_pointer(attachment), ctypes.byref(value), ctypes.byref(error)) != 1:
        lib.libpff_error_free(ctypes.byref(error))
        return "\0"
    return chr(value.value) if value.value else "\0"


def open_embedded(attachment: Any) -> Any:
    """The embedded message of a method-5 attachment as a pypff.message (keeps the attachment alive)."""
    lib, message_type = _api()
    sub_item = ctypes.c_void_p()
    error = ctypes.c_void_p()
    if lib.libpff_attachment_get_item(_item_pointer(attachment), ctypes.byref(sub_item), ctypes.byref(error)) != 1:
        lib.libpff_error_free(ctypes.byref(error))
        raise EmbeddedMessageError("libpff could not open the embedded message")
    return lib.pypff_item_new(message_type, sub_item, attachment)
