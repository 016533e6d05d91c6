"""File names the project writes (export, left-out attachments) and the one way it creates them on disk.

A name is made valid on Windows and POSIX alike (forbidden characters, reserved device names, trailing dots
and spaces), capped in UTF-8 bytes, never mid-character (file systems count bytes: 255 at most; NTFS counts
UTF-16 units, never more than the UTF-8 bytes), and kept unique in its directory as NTFS, APFS and exFAT
compare names (case- and normalization-insensitively).

`Folder` is a directory the project writes into: folders are created or reused only when they are real
directories (a symbolic link, a Windows junction or other reparse point, or a file where a folder should be
is refused with `UnsafePath`), and files are created exclusively (O_CREAT|O_EXCL, O_NOFOLLOW) under a
temporary name, then renamed into place, so a file is never written through a link planted where we
write, and a write that fails leaves nothing behind. On POSIX every step is relative to an open directory
descriptor (no path is resolved twice); where the OS lacks dir_fd/O_NOFOLLOW (Windows), each folder is
checked with os.lstat when it is opened and files still rely on exclusive create, which never follows a
link at the final name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
import unicodedata
from pathlib import Path
from typing import BinaryIO, NamedTuple

#: What a name may take in UTF-8 bytes: room is left under the file systems' 255 for " (NNNN)" and more.
NAME_BYTES = 200
#: The file systems' own limit on one name (ext4, XFS, APFS: bytes; NTFS: UTF-16 units).
MAX_NAME_BYTES = 255
#: How many " (n)" variants are tried before a directory is called full of that name.
MAX_VARIANTS = 10_000

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\ud800-\udfff]')
_RESERVED = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "CONIN$",
        "CONOUT$",
        *(f"COM{i}" for i in "123456789¹²³"),
        *(f"LPT{i}" for i in "123456789¹²³"),
    }
)
_EXTENSION_BYTES = 16
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_PRIVATE_FD = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOINHERIT", 0)  # not inherited by child processes
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0) | _PRIVATE_FD
#: Whole walks relative to directory descriptors (Linux, the BSDs, macOS); elsewhere paths checked by lstat.
DIR_FD = (
    bool(_NOFOLLOW and _DIRECTORY)
    and {os.open, os.mkdir, os.stat, os.unlink, os.rename, os.rmdir} <= os.supports_dir_fd
)


class UnsafePath(OSError):
    """A place the project will not write into: the path and what was found there (a link, a file...)."""

    def __init__(self, path: Path, found: str) -> None:
        super().__init__(errno.EEXIST, f"{path} is {found}, refused (never written through)")
        self.path, self.found = path, found


def cap_bytes(text: str, limit: int) -> str:
    """The longest start of text whose UTF-8 encoding fits in limit bytes (never half a character)."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= limit else encoded[:limit].decode("utf-8", "ignore")


def _split(name: str, file: bool) -> tuple[str, str]:
    """(stem, extension) of a file name ending in a short extension ('report.pdf' -> 'report', '.pdf');
    a folder name is all stem."""
    stem, dot, extension = name.rpartition(".")
    if (
        file
        and dot
        and stem.strip(". ")
        and 0 < len(extension.encode("utf-8")) < _EXTENSION_BYTES
        and " " not in extension
    ):
        return stem, "." + extension
    return name, ""


def _fit(name: str, limit: int, file: bool) -> str:
    """name within limit bytes, keeping a file's extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, extension = _split(name, file)
    return cap_bytes(stem, limit - len(extension.encode("utf-8"))).rstrip(". ") + extension


def safe_name(name: str, limit: int = NAME_BYTES, file: bool = True) -> str:
    """A file (or folder: file=False) name valid on Windows, macOS and Linux, at most limit UTF-8 bytes, never
    empty, hidden, '.'/'..' nor a Windows device name (CON, NUL, COM1... whatever the extension)."""
    cleaned = _fit(_UNSAFE.sub("_", name).strip().rstrip(". "), limit - 1, file).rstrip(". ")
    device = cleaned.split(".")[0].rstrip(" ").upper()
    if not cleaned or cleaned.startswith(".") or device in _RESERVED:
        cleaned = f"_{cleaned}"  # a leading dot would also hide it (and could meet our own temporary names)
    return cleaned


def name_key(name: str) -> str:
    """How file systems that ignore case and normalization (NTFS, APFS, exFAT) compare names."""
    return unicodedata.normalize("NFC", name).casefold()


def numbered(name: str, n: int, file: bool = True) -> str:
    """The n-th variant of name: 'scan.pdf', 'scan (2).pdf', 'scan (3).pdf'... (a folder's: 'Reports (2)'),
    within MAX_NAME_BYTES."""
    if n <= 1:
        return name
    stem, extension = _split(name, file)
    suffix = f" ({n}){extension}"
    return cap_bytes(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))).rstrip(" ") + suffix


def unique(name: str, taken: set[str], file: bool = True) -> str:
    """name, or its first numbered variant not in taken (compared by name_key); added to taken."""
    for n in range(1, MAX_VARIANTS + 1):
        candidate = numbered(name, n, file)
        if name_key(candidate) not in taken:
            taken.add(name_key(candidate))
            return candidate
    raise OSError(errno.EEXIST, f"{MAX_VARIANTS} files of that name already", name)


def _found(info: os.stat_result) -> str | None:
    """Why a directory entry is not a plain folder we may write into, or None when it is one."""
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if getattr(info, "st_file_attributes", 0) & _REPARSE_POINT:
        return "a junction or other reparse point"
    if not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    return None


class Added(NamedTuple):
    """Where Folder.add put a file, and whether it wrote it (False: the same bytes were there already)."""

    name: str
    new: bool


class Folder:
    """A directory the project writes into (see the module's docstring); close() when done with it."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: Path) -> Folder:
        """A folder the admin named (--out, the state's reports): a link there is their choice and is followed."""
        if DIR_FD:
            return cls(path, os.open(path, os.O_RDONLY | _DIRECTORY | _PRIVATE_FD))
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
        return cls(path, None)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _at(self, name: str) -> tuple[str, dict[str, int]]:
        """(what to pass for name, the dir_fd keyword) for an os call on an entry of this folder."""
        if self._fd is not None:
            return name, {"dir_fd": self._fd}
        return str(self.path / name), {}

    def _lstat(self, name: str) -> os.stat_result:
        where, at = self._at(name)
        return os.stat(where, follow_symlinks=False, **at)

    def child(self, name: str, mode: int = 0o777) -> Folder:
        """The folder `name` in this one, created if missing; UnsafePath when something else is there."""
        where, at = self._at(name)
        try:
            os.mkdir(where, mode, **at)
        except FileExistsError:
            pass
        if self._fd is None:
            found = _found(os.stat(where, follow_symlinks=False))
            if found:
                raise UnsafePath(self.path / name, found)
            return Folder(self.path / name, None)
        try:
            fd = os.open(where, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _PRIVATE_FD, **at)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafePath(self.path / name, _found(self._lstat(name)) or "not a folder") from None
            raise
        return Folder(self.path / name, fd)

    def create_temporary(self, mode: int = 0o666) -> tuple[str, BinaryIO]:
        """A new file under a fresh hidden name of this folder, open for writing: publish() or remove() it."""
        name = f".rebuild-{secrets.token_hex(8)}.partial"
        where, at = self._at(name)
        return name, os.fdopen(os.open(where, _CREATE, mode, **at), "wb")

    def _temporary(self, data: bytes, mode: int) -> str:
        """data written under a fresh hidden name of this folder (removed again if the write fails)."""
        name, fh = self.create_temporary(mode)
        try:
            with fh:
                fh.write(data)
        except BaseException:
            self.remove(name)
            raise
        return name

    def publish(self, temporary: str, name: str) -> None:
        """The finished temporary file becomes `name` (replacing a file, or a link, of that name); removed if not."""
        try:
            self._rename(temporary, name)
        except BaseException:
            self.remove(temporary)
            raise

    def _rename(self, source: str, target: str) -> None:
        if self._fd is not None:
            os.rename(source, target, src_dir_fd=self._fd, dst_dir_fd=self._fd)  # POSIX: replaces target
        else:
            os.replace(self.path / source, self.path / target)

    def replace(self, name: str, data: bytes, mode: int = 0o666) -> str:
        """Write data as `name`, replacing a file of that name (a link there is replaced, never followed)."""
        self.publish(self._temporary(data, mode), name)
        return name

    def add(self, name: str, data: bytes, mode: int = 0o666) -> Added:
        """Write data under name or its first free numbered variant ('scan (2).pdf'); a variant already holding
        exactly these bytes (the same file saved by an earlier run, or by a copy of the item) is reused."""
        temporary = self._temporary(data, mode)
        try:
            for n in range(1, MAX_VARIANTS + 1):
                candidate = numbered(name, n)
                where, at = self._at(candidate)
                try:
                    os.close(os.open(where, _CREATE, mode, **at))  # the name is ours from now on
                except FileExistsError:
                    if self._holds(candidate, data):
                        self.remove(temporary)
                        return Added(candidate, new=False)
                    continue
                self._rename(temporary, candidate)
                return Added(candidate, new=True)
            raise OSError(errno.EEXIST, f"{MAX_VARIANTS} files of that name already", str(self.path / name))
        except BaseException:
            self.remove(temporary)
            raise

    def _holds(self, name: str, data: bytes) -> bool:
        """Whether the regular file `name` (never followed if a link) holds exactly data."""
        try:
            info = self._lstat(name)
            if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
                return False
            where, at = self._at(name)
            fd = os.open(where, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_BINARY", 0) | _PRIVATE_FD, **at)
        except OSError:
            return False
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.digest() == hashlib.sha256(data).digest()

    def remove(self, name: str) -> None:
        """Remove the file `name` if it is there (a link is removed, never followed)."""
        where, at = self._at(name)
        try:
            os.unlink(where, **at)
        except FileNotFoundError:
            pass

    def remove_folder(self, name: str) -> None:
        """Remove the empty folder `name` if it is there."""
        where, at = self._at(name)
        try:
            os.rmdir(where, **at)
        except OSError:
            pass  # gone already, or not empty: not ours to remove


def descend(root: Folder, parts: tuple[str, ...], mode: int = 0o777) -> Folder:
    """The folder root/parts..., each level created as needed and checked (see Folder.child); the levels in
    between are closed again, root is left open. With no parts, a second handle on root."""
    current = Folder(root.path, None if root._fd is None else os.dup(root._fd))
    for part in parts:
        try:
            below = current.child(part, mode)
        finally:
            current.close()
        current = below
    return current
