"""The user's settings on an EWS mailbox: user configuration objects read and written with exchangelib
(`Folder.get/create/update_user_configuration`), in the distinguished folder the plan names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchangelib.errors import ErrorItemNotFound

from pipeline.convert.user_settings.merge import ConfigurationTarget, ServerConfiguration

_FOLDERS = {"calendar": "calendar", "inbox": "inbox", "contacts": "contacts", "root": "root"}


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
            return ServerConfiguration(xml=found.xml_data, binary=found.binary_data, dictionary=words)

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
