"""Access to embedded messages (attach method 5), which pypff's Python API does not offer.

libpff_attachment_get_item() is called through ctypes (libpff_capi.py) and its result wrapped as a
pypff.message; where pypff does not export libpff's C API (Windows wheels) an embedded message cannot be
opened and is reported like any unreadable one.
"""

from __future__ import annotations

import ctypes
from typing import Any

from pipeline.source import libpff_capi

_ITEM_OUT = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p))
_TYPE_OUT = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_void_p))


class EmbeddedMessageError(RuntimeError):
    """libpff could not open the embedded message of an attachment."""


def _item_pointer(obj: Any) -> int:
    try:
        return libpff_capi.item_pointer(obj)
    except ValueError:
        raise EmbeddedMessageError("attachment has no libpff item") from None


def attachment_type(attachment: Any) -> str:
    """libpff's attachment type: 'd' data, 'i' item (embedded message), 'r' reference, '\\0' unknown."""
    try:
        get_type = libpff_capi.function("libpff_attachment_get_type", _TYPE_OUT)
    except libpff_capi.CApiUnavailable:
        return "\0"
    value = ctypes.c_int(0)
    error = ctypes.c_void_p()
    if get_type(_item_pointer(attachment), ctypes.byref(value), ctypes.byref(error)) != 1:
        libpff_capi.free_error(error)
        return "\0"
    return chr(value.value) if value.value else "\0"


def open_embedded(attachment: Any) -> Any:
    """The embedded message of a method-5 attachment as a pypff.message (keeps the attachment alive)."""
    try:
        get_item = libpff_capi.function("libpff_attachment_get_item", _ITEM_OUT)
    except libpff_capi.CApiUnavailable as exc:
        raise EmbeddedMessageError(str(exc)) from None
    sub_item = ctypes.c_void_p()
    error = ctypes.c_void_p()
    if get_item(_item_pointer(attachment), ctypes.byref(sub_item), ctypes.byref(error)) != 1:
        libpff_capi.free_error(error)
        raise EmbeddedMessageError("libpff could not open the embedded message")
    return libpff_capi.as_message(sub_item, attachment)
