"""MIME types by file extension: a fixed table in the package, so output never depends on the host.

(Python's mimetypes module reads the host's own tables, e.g. /etc/mime.types or the Windows registry, so
the same OST could convert differently on two machines.)
"""

from __future__ import annotations

_TABLE = {
    # documents
    "pdf": "application/pdf",
    "rtf": "application/rtf",
    "txt": "text/plain",
    "text": "text/plain",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "htm": "text/html",
    "html": "text/html",
    "xml": "application/xml",
    "json": "application/json",
    "md": "text/markdown",
    "log": "text/plain",
    "ics": "text/calendar",
    "vcs": "text/calendar",
    "vcf": "text/vcard",
    "eml": "message/rfc822",
    "msg": "application/vnd.ms-outlook",
    "css": "text/css",
    "js": "text/javascript",
    # Microsoft Office
    "doc": "application/msword",
    "dot": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "dotx": "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "xls": "application/vnd.ms-excel",
    "xlt": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    "ppt": "application/vnd.ms-powerpoint",
    "pps": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "vsd": "application/vnd.visio",
    "vsdx": "application/vnd.ms-visio.drawing",
    "mpp": "application/vnd.ms-project",
    "pub": "application/x-mspublisher",
    "one": "application/onenote",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    # images
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "ico": "image/vnd.microsoft.icon",
    "svg": "image/svg+xml",
    "webp": "image/webp",
    "heic": "image/heic",
    "emf": "image/emf",
    "wmf": "image/wmf",
    # audio and video
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "wma": "audio/x-ms-wma",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "wmv": "video/x-ms-wmv",
    "mpg": "video/mpeg",
    "mpeg": "video/mpeg",
    "webm": "video/webm",
    # archives and binaries
    "zip": "application/zip",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "tar": "application/x-tar",
    "bz2": "application/x-bzip2",
    "exe": "application/x-msdownload",
    "dll": "application/x-msdownload",
    "msi": "application/x-msi",
    "bin": "application/octet-stream",
    "iso": "application/x-iso9660-image",
    # security and mail
    "p7s": "application/pkcs7-signature",
    "p7m": "application/pkcs7-mime",
    "p7c": "application/pkcs7-mime",
    "cer": "application/pkix-cert",
    "crt": "application/x-x509-ca-cert",
    "pem": "application/x-pem-file",
    "p12": "application/x-pkcs12",
    "pfx": "application/x-pkcs12",
    "asc": "application/pgp-signature",
    "url": "application/internet-shortcut",
    "lnk": "application/x-ms-shortcut",
}


def by_name(filename: str) -> str | None:
    """The MIME type for a file name's extension, or None when the table does not know it."""
    _, dot, extension = filename.rpartition(".")
    return _TABLE.get(extension.strip().lower()) if dot else None
