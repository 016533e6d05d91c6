"""EWS operations, one module each; importing the package registers them all (`ews/registry.py`)."""

from __future__ import annotations

from pipeline.sandbox.ews.operations import (  # noqa: F401  (each registers itself)
    attachment_changes,
    availability,
    convert_id,
    create_folder,
    create_item,
    delete_folder,
    delete_item,
    directory,
    find_folder,
    find_item,
    folder_changes,
    get_attachment,
    get_folder,
    get_item,
    misc,
    move_copy_item,
    update_item,
)
