"""The user's settings on an EWS mailbox: user configuration objects read and written with exchangelib
(`Folder.get/create/update_user_configuration`), in the distinguished folder the plan names.

A dictionary is written with each entry's own EWS type (options.py's TypedValue): exchangelib names a Python
int Integer64, so the other integer types travel as int subclasses registered with its TypeValueField."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchangelib.errors import ErrorItemNotFound
from exchangelib.fields import TypeValueField

from pipeline.convert.user_settings.merge import ConfigurationTarget, ServerConfiguration
from pipeline.convert.user_settings.options import TypedValue

_FOLDERS = {
    "calendar": "calendar",
    "inbox": "inbox",
    "contacts": "contacts",
    "root": "root",
    "tasks": "tasks",
    "notes": "notes",
    "journal": "journal",
}


class _Integer32(int):
    pass


class _UnsignedInteger32(int):
    pass


class _UnsignedInteger64(int):
    pass


_INTEGERS: dict[str, type[int]] = {
    "Integer32": _Integer32,
    "UnsignedInteger32": _UnsignedInteger32,
    "UnsignedInteger64": _UnsignedInteger64,
}
for _name, _cls in _INTEGERS.items():
    TypeValueField.TYPES_MAP_REVERSED.setdefault(_cls, _name)


def _value(typed: TypedValue) -> Any:
    """A TypedValue as exchangelib writes it with that type (Byte: one byte; Integer64: a plain int)."""
    if typed.ews_type == "Byte":
        return int(typed.value).to_bytes(1, "little")
    if typed.ews_type in _INTEGERS:
        return _INTEGERS[typed.ews_type](typed.value)
    return typed.value


class EwsConfigurations:
    """Reads and writes user configurations under the mailbox's retry policy (`call`)."""

    def __init__(self, account: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.account, self._call = account, call
        self._dictionaries: dict[ConfigurationTarget, dict[Any, Any]] = {}  # as read, every entry whatever its type

    def _folder(self, target: ConfigurationTarget) -> Any:
        return getattr(self.account, _FOLDERS[target.folder])

    def read(self, target: ConfigurationTarget) -> ServerConfiguration | None:
        def get() -> ServerConfiguration | None:
            try:
                found = self._folder(target).get_user_configuration(name=target.name, properties="All")
            except ErrorItemNotFound:
                return None
            self._dictionaries[target] = dict(found.dictionary or {})
            words = {str(k): v for k, v in (found.dictionary or {}).items() if isinstance(v, str)}
            values = dict(found.dictionary) if found.dictionary else None
            return ServerConfiguration(xml=found.xml_data, binary=found.binary_data, dictionary=words, values=values)

        return self._call(get)

    def write(self, target: ConfigurationTarget, xml: bytes, create: bool) -> None:
        folder = self._folder(target)
        if create:
            self._call(lambda: folder.create_user_configuration(name=target.name, xml_data=xml))
        else:
            self._call(lambda: folder.update_user_configuration(name=target.name, xml_data=xml))

    def write_binary(
        self, target: ConfigurationTarget, binary: bytes, dictionary: dict[str, str], create: bool
    ) -> None:
        """A configuration's binary data and its dictionary, in one request (the stamp travels with the data).
        The dictionary as read is sent back whole with these entries set: an update replaces it."""
        folder = self._folder(target)
        dictionary = {**self._dictionaries.get(target, {}), **dictionary}
        call = folder.create_user_configuration if create else folder.update_user_configuration
        self._call(lambda: call(name=target.name, dictionary=dictionary, binary_data=binary))

    def create_parts(
        self,
        target: ConfigurationTarget,
        dictionary: tuple[tuple[TypedValue, TypedValue], ...] | None,
        xml: bytes | None,
        binary: bytes | None,
    ) -> None:
        """A new configuration with the parts as read from the source, in one request (none written half)."""
        folder = self._folder(target)
        entries = {_value(k): _value(v) for k, v in dictionary} if dictionary else None
        self._call(
            lambda: folder.create_user_configuration(
                name=target.name, dictionary=entries, xml_data=xml, binary_data=binary
            )
        )
