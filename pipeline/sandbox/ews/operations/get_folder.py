"""GetFolder: folders by FolderId or DistinguishedFolderId, one response message per requested folder.

Missing distinguished folders answer ErrorFolderNotFound, as exchangelib expects when probing well-known ids.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox.ews import shapes, soap
from pipeline.sandbox.ews.context import Context, M, folder_refs, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.folder_view import FolderView
from pipeline.sandbox.ews.registry import operation


@operation("GetFolder")
def get_folder(ctx: Context, request: etree._Element) -> str:
    shape = shapes.parse_shape(request.find(f"{M}FolderShape"))
    messages = []
    with ctx.store.connection() as conn:
        view = FolderView(ctx.store, conn)
        for ref in folder_refs(request.find(f"{M}FolderIds")):
            try:
                folder = resolve_folder(ctx, conn, ref)
                messages.append(soap.success("GetFolder", f"<m:Folders>{view.render(folder, shape)}</m:Folders>"))
            except ResponseError as exc:
                messages.append(soap.error("GetFolder", exc.code, exc.text, "<m:Folders/>"))
    return soap.operation_response("GetFolder", messages)
