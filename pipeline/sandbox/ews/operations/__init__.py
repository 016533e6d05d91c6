"""EWS operations, one module each; importing the package registers them all (`ews/registry.py`)."""

from __future__ import annotations

from pipeline.sandbox.ews.operations import (  # noqa: F401  (each registers itself)
    convert_id,
    create_folder,
    create_item,
    delete_folder,
    delete_item,
    find_folder,
    find_item,
    get_attachment,
    get_folder,
    get_item,
    inbox_rules,
    misc,
    update_item,
    user_configuration,
)
