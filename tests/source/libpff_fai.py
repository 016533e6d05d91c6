"""A second reader of folder-associated contents for the tests: libpff's C API through ctypes (pypff has no
binding for a folder's associated contents). Written here, sharing nothing with pipeline/source.

`associated_contents(path)` gives {folder path: [(message class, {property id: bytes})]} for every folder
that has associated messages, the folder path as libpff names it from the root; None when libpff's shared
library is not on this machine. An entry libpff counts but cannot open is listed as UNREADABLE.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

LIBPFF_OPEN_READ = 1
PR_MESSAGE_CLASS = 0x001A
WANTED_BINARIES = (0x7C07, 0x7C08, 0x7C09, 0x6845, 0x0E99, 0x0E9A, 0x6802)
#: The class given to an associated entry libpff lists but cannot open (search folders' under Finder).
UNREADABLE = "<libpff cannot open it>"


def _library() -> ctypes.CDLL | None:
    for name in ("libpff.so.1", ctypes.util.find_library("pff")):
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def associated_contents(path: Path) -> dict[tuple[str, ...], list[tuple[str, dict[int, bytes]]]] | None:
    lib = _library()
    if lib is None:
        return None
    vp, error = ctypes.c_void_p, ctypes.c_void_p()

    def check(result: int, what: str) -> int:
        if result == -1:
            raise OSError(f"libpff: {what} failed")
        return result

    handle = vp()
    check(lib.libpff_file_initialize(ctypes.byref(handle), ctypes.byref(error)), "initialize")
    check(lib.libpff_file_open(handle, str(path).encode(), LIBPFF_OPEN_READ, ctypes.byref(error)), "open")
    found: dict[tuple[str, ...], list[tuple[str, dict[int, bytes]]]] = {}

    def string(item: ctypes.c_void_p, entry: int) -> str | None:
        size = ctypes.c_size_t()
        if (
            lib.libpff_item_get_entry_value_utf8_string_size(item, 0, entry, ctypes.byref(size), 0, ctypes.byref(error))
            != 1
        ):
            return None
        buffer = ctypes.create_string_buffer(size.value)
        check(
            lib.libpff_item_get_entry_value_utf8_string(item, 0, entry, buffer, size, 0, ctypes.byref(error)), "string"
        )
        return buffer.value.decode("utf-8")

    def binary(item: ctypes.c_void_p, entry: int) -> bytes | None:
        size = ctypes.c_size_t()
        if (
            lib.libpff_item_get_entry_value_binary_data_size(item, 0, entry, ctypes.byref(size), 0, ctypes.byref(error))
            != 1
        ):
            return None
        buffer = ctypes.create_string_buffer(max(size.value, 1))
        check(
            lib.libpff_item_get_entry_value_binary_data(item, 0, entry, buffer, size, 0, ctypes.byref(error)), "binary"
        )
        return buffer.raw[: size.value]

    def walk(folder: ctypes.c_void_p, where: tuple[str, ...]) -> None:
        count = ctypes.c_int()
        if (
            lib.libpff_folder_get_number_of_sub_associated_contents(folder, ctypes.byref(count), ctypes.byref(error))
            == 1
        ):
            for index in range(count.value):
                item = vp()
                if (
                    lib.libpff_folder_get_sub_associated_content(folder, index, ctypes.byref(item), ctypes.byref(error))
                    != 1
                ):
                    lib.libpff_error_free(ctypes.byref(error))
                    found.setdefault(where, []).append((UNREADABLE, {}))
                    continue
                values = {entry: data for entry in WANTED_BINARIES if (data := binary(item, entry)) is not None}
                found.setdefault(where, []).append((string(item, PR_MESSAGE_CLASS) or "", values))
                lib.libpff_item_free(ctypes.byref(item), None)
        subfolders = ctypes.c_int()
        check(
            lib.libpff_folder_get_number_of_sub_folders(folder, ctypes.byref(subfolders), ctypes.byref(error)),
            "sub folders",
        )
        for index in range(subfolders.value):
            sub = vp()
            check(lib.libpff_folder_get_sub_folder(folder, index, ctypes.byref(sub), ctypes.byref(error)), "sub")
            size = ctypes.c_size_t()
            name = ""
            if lib.libpff_folder_get_utf8_name_size(sub, ctypes.byref(size), ctypes.byref(error)) == 1:
                buffer = ctypes.create_string_buffer(size.value)
                lib.libpff_folder_get_utf8_name(sub, buffer, size, ctypes.byref(error))
                name = buffer.value.decode("utf-8")
            walk(sub, (*where, name))
            lib.libpff_item_free(ctypes.byref(sub), None)

    root = vp()
    try:
        check(lib.libpff_file_get_root_folder(handle, ctypes.byref(root), ctypes.byref(error)), "root folder")
        walk(root, ())
        lib.libpff_item_free(ctypes.byref(root), None)
    finally:
        lib.libpff_file_close(handle, None)
        lib.libpff_file_free(ctypes.byref(handle), None)
    return found
