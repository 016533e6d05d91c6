"""The Graph face's requests: token endpoint, $batch, mail folders and messages (JSON and importMime),
calendars and events, contact folders and contacts, To Do lists and tasks, over the sandbox's one store.

Exchange Online's documented behaviours kept: a message created through the API is a draft unless
PR_MESSAGE_FLAGS is set at creation without the unsent bit; importMime (beta only) makes a delivered
message keeping its MIME; an event with attendees would send invitations (the face records every
message that would have been sent instead of sending it); 429 with Retry-After beyond the per-mailbox
budgets; $batch of at most 20 requests; pages of at most 1000 with @odata.nextLink.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pipeline.sandbox import ids, mime, props, timezones
from pipeline.sandbox.graph import extprops, metadata, shapes
from pipeline.sandbox.graph import series as graph_series
from pipeline.sandbox.graph.throttle import GraphLimits, Throttle
from pipeline.sandbox.graph.tokens import TokenIssuer
from pipeline.sandbox.graph.uploads import UPLOAD_PREFIX, Session, UploadError, Uploads
from pipeline.sandbox.rows import ExtValue, FolderRow, ItemRow, NewItem, now_iso
from pipeline.sandbox.store import FolderExists

log = logging.getLogger("pipeline.sandbox.graph")

VERSIONS = ("v1.0", "beta")
SENT_LOG = "graph-sent.jsonl"
#: Graph's well-known mail folder names that this store has (Microsoft's list, mailFolder resource).
WELL_KNOWN = {"inbox", "drafts", "sentitems", "deleteditems", "junkemail", "outbox", "msgfolderroot",
              "conversationhistory", "syncissues", "conflicts", "localfailures", "serverfailures",
              "searchfolders", "recoverableitemsdeletions", "archive", "clutter", "scheduled"}
_SIDE_TABLES = """
CREATE TABLE IF NOT EXISTS graph_hidden(folder_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS graph_items(item_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""
#: Container classes of the collections; a mail folder is anything else.
CALENDAR, CONTACT, TASK = "IPF.Appointment", "IPF.Contact", "IPF.Task"
_KIND = {CALENDAR: "CalendarItem", CONTACT: "Contact", TASK: "Task"}
_CLASS = {CALENDAR: "IPM.Appointment", CONTACT: "IPM.Contact", TASK: "IPM.Task"}
_ENTITY = {CALENDAR: "event", CONTACT: "contact", TASK: "todoTask"}
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=(.*)\)$", re.IGNORECASE | re.DOTALL)
_ID_EQ = re.compile(r"id\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)
_NAME_EQ = re.compile(r"^(displayName|name)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


@dataclass(slots=True)
class GraphReply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    reset: bool = False


@dataclass(slots=True)
class Call:
    """One request as routed: who, which mailbox, what."""

    app: str
    version: str
    method: str
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str  # scheme://host:port, for nextLinks


def _json(status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> GraphReply:
    return GraphReply(status, json.dumps(value).encode(), headers=headers or [])


def _error(exc: GraphError) -> GraphReply:
    inner = {"code": exc.code, "message": exc.message,
             "innerError": {"date": now_iso(), "request-id": hashlib.sha1(exc.message.encode()).hexdigest()[:16]}}
    return _json(exc.status, {"error": inner}, exc.headers)


class GraphFace:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.store = app.store
        self.tokens = TokenIssuer(app.data_dir, app.store)
        self.throttle = Throttle(GraphLimits())
        self.import_mime = True  # False: importMime answers as on a cloud without it
        self.uploads = Uploads()
        self._sent_lock = threading.Lock()
        with self.store.connection() as conn:
            conn.executescript(_SIDE_TABLES)
        if metadata.available():
            threading.Thread(target=metadata.properties, args=("message",), daemon=True).start()

    # -- entry ------------------------------------------------------------------------------------
    def precheck(self, method: str, target: str, headers: dict[str, str]) -> GraphReply | None:
        """The answer to a request refused from its headers alone (unknown version, no valid bearer token,
        unknown upload session), before its body is read; None when the body may be read."""
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if len(segments) in (4, 5) and segments[1] in ("oauth2", "v2.0"):
            return None  # the token endpoint (credentials in the body) and msal's discovery document
        if parts.path.startswith(UPLOAD_PREFIX):
            if method == "PUT" and self.uploads.owner(parts.path[len(UPLOAD_PREFIX):]) is None:
                return _error(GraphError(404, "ItemNotFound", "The upload session does not exist or has expired."))
            return None
        if not segments or segments[0] not in VERSIONS:
            return _error(GraphError(400, "BadRequest", f"Invalid version: {segments[0] if segments else ''}"))
        if self.tokens.check(headers.get("authorization", "")) is None:
            self.app.stats.add("graph:401")
            return _error(GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid."))
        return None

    @staticmethod
    def too_large(limit: int) -> GraphReply:
        """A body over the server's request limit, refused as Graph's front end does: 413 with Graph's error
        JSON (the status is documented for Graph, learn.microsoft.com/graph/errors; the code is assumed)."""
        return _error(GraphError(413, "RequestEntityTooLarge",
                                 f"The request body exceeds the maximum of {limit} bytes."))

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base: str) -> GraphReply:
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if method == "POST" and len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, answer = self.tokens.issue(form)
            self.app.stats.add(f"graph:token:{status}")
            return _json(status, answer)
        if method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return _json(200, self._openid(base, segments[0]))
        if parts.path.startswith(UPLOAD_PREFIX):
            if method != "PUT":
                return _error(GraphError(405, "ErrorInvalidRequest", "Upload URLs take PUT."))
            return self.upload(parts.path[len(UPLOAD_PREFIX):], headers, body)
        if not segments or segments[0] not in VERSIONS:
            return _error(GraphError(400, "BadRequest", f"Invalid version: {segments[0] if segments else ''}"))
        app_id = self.tokens.check(headers.get("authorization", ""))
        if app_id is None:
            self.app.stats.add("graph:401")
            return _error(GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid."))
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        call = Call(app_id, segments[0], method, segments[1:], query, headers, body, base)
        if call.segments == ["$batch"] and method == "POST":
            return self._batch(call)
        return self._guarded(call)

    def _openid(self, base: str, tenant: str) -> dict[str, Any]:
        secure = base.replace("http://", "https://")
        return {"token_endpoint": f"{secure}/{tenant}/oauth2/v2.0/token",
                "authorization_endpoint": f"{secure}/{tenant}/oauth2/v2.0/authorize",
                "issuer": f"{secure}/{tenant}/v2.0", "token_endpoint_auth_methods_supported": ["client_secret_post"]}

    def _guarded(self, call: Call, in_batch: bool = False) -> GraphReply:
        """Throttling, faults and errors around one routed request."""
        if len(call.segments) < 2 or call.segments[0] != "users":
            return _error(GraphError(400, "BadRequest", "Resource not found for the segment."))
        user = call.segments[1].lower()
        operation = self._operation(call)
        self.app.stats.add(operation)
        upload = len(call.body) if operation.startswith("Graph:create") else 0
        throttled = self.throttle.enter(call.app, user, upload)
        if throttled is not None:
            self.app.stats.add(f"graph:429:{throttled.reason}")
            return _error(GraphError(429, "ApplicationThrottled", f"Application is over its {throttled.reason} limit.",
                                     [("Retry-After", str(int(throttled.retry_after)))]))
        try:
            faults = self.app.faults.decide(operation, user)
            if faults.reset and not in_batch:
                return GraphReply(0, reset=True)
            if faults.delay and not in_batch:  # a delay is per HTTP request, not per $batch part
                time.sleep(faults.delay)
            if faults.http_status:
                return _error(GraphError(faults.http_status, "ServiceUnavailable" if faults.http_status == 503
                                         else "InternalServerError", "Injected fault.",
                                         [("Retry-After", "1")] if faults.http_status == 503 else []))
            if faults.throttle_ms is not None:
                return _error(GraphError(429, "ApplicationThrottled", "Injected throttling.",
                                         [("Retry-After", str(max(1, round(faults.throttle_ms / 1000))))]))
            if faults.error_code:
                return _error(GraphError(500, faults.error_code, f"Injected fault {faults.error_code}."))
            mailbox = self.store.mailbox(user)
            if mailbox is None:
                raise GraphError(404, "ErrorInvalidUser", f"The requested user '{call.segments[1]}' is invalid.")
            reply = self._route(call, mailbox.id, call.segments[2:])
            if faults.commit_then_drop and not in_batch:
                return GraphReply(0, drop=True)
            return reply
        except GraphError as exc:
            self.app.stats.add(f"graph:error:{exc.code}")
            return _error(exc)
        except Exception:  # noqa: BLE001 - a bug answers like a server error
            log.error("graph face: %s failed:\n%s", operation, traceback.format_exc())
            self.app.stats.add("internal_errors")
            return _error(GraphError(500, "InternalServerError", "An internal server error occurred."))
        finally:
            self.throttle.leave(call.app, user)

    @staticmethod
    def _operation(call: Call) -> str:
        rest = call.segments[2:]
        last = rest[-1] if rest else ""
        if call.method == "POST" and last == "importMime":
            return "Graph:createImportMime"
        if call.method == "POST" and last in ("messages", "events", "contacts", "tasks"):
            return f"Graph:create{last[:-1].title()}"
        nouns = [s for s in rest if s in ("mailFolders", "childFolders", "messages", "calendars", "calendar",
                                           "events", "contactFolders", "contacts", "todo", "lists", "tasks")]
        return f"Graph:{call.method}:{'/'.join(nouns)}"

    # -- $batch -----------------------------------------------------------------------------------
    def _batch(self, call: Call) -> GraphReply:
        try:
            document = json.loads(call.body or b"{}")
            requests = document["requests"]
            assert isinstance(requests, list)
        except (ValueError, KeyError, AssertionError):
            return _error(GraphError(400, "BadRequest", "Invalid batch payload format."))
        limit = self.throttle.limits.batch_size
        if len(requests) > limit:
            return _error(GraphError(400, "BadRequest", f"Number of batch requests exceeds the maximum of {limit}."))
        answers = []
        self.app.stats.add("graph:batch")
        for entry in requests:
            rid = str(entry.get("id", ""))
            method = str(entry.get("method", "GET")).upper()
            url = str(entry.get("url", ""))
            headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
            body = entry.get("body")
            raw = (body if isinstance(body, str) else json.dumps(body)).encode() if body is not None else b""
            parts = urlsplit(url if url.startswith("/") else "/" + url)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            segments = [unquote(s) for s in parts.path.split("/") if s]
            sub = Call(call.app, call.version, method, segments, query, headers, raw, call.base)
            reply = self._guarded(sub, in_batch=True)
            answer: dict[str, Any] = {"id": rid, "status": reply.status,
                                      "headers": {"Content-Type": reply.content_type, **dict(reply.headers)}}
            if reply.body:
                answer["body"] = json.loads(reply.body)
            answers.append(answer)
        return _json(200, {"responses": answers})

    # -- routing ----------------------------------------------------------------------------------
    def _route(self, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
        method = call.method
        head = rest[0] if rest else ""
        if head == "mailFolders":
            return self._mail_folders(call, mailbox_id, rest[1:])
        if head == "messages" and len(rest) == 2:
            return self._item(call, mailbox_id, rest[1], "Message")
        if head == "messages" and rest[2:] == ["attachments", "createUploadSession"] and method == "POST":
            return self._upload_session(call, mailbox_id, rest[1])
        if head == "messages" and len(rest) == 3 and rest[2] == "send" and method == "POST":
            return self._record_send(mailbox_id, "message.send", {"id": rest[1]})
        if head == "sendMail" and method == "POST":
            return self._record_send(mailbox_id, "sendMail", self._body(call))
        if head in ("calendar", "calendars"):
            return self._collection(call, mailbox_id, rest, CALENDAR)
        if head == "events" and len(rest) == 2 and ids.is_occurrence_id(shapes.ews_id(rest[1])):
            return self._occurrence(call, mailbox_id, rest[1])
        if head == "events" and len(rest) == 3 and rest[2] == "instances" and method == "GET":
            return self._instances(call, mailbox_id, rest[1])
        if head == "events" and len(rest) == 2:
            return self._item(call, mailbox_id, rest[1], "CalendarItem")
        if head == "contactFolders" or (head == "contacts" and len(rest) == 1):
            return self._collection(call, mailbox_id, rest, CONTACT)
        if head == "contacts" and rest[2:] == ["photo", "$value"] and method == "PUT":
            return self._photo(call, mailbox_id, rest[1])
        if head == "contacts" and len(rest) == 2:
            return self._item(call, mailbox_id, rest[1], "Contact")
        if rest[:2] == ["todo", "lists"]:
            if len(rest) == 5 and rest[3] == "tasks":
                return self._item(call, mailbox_id, rest[4], "Task")
            return self._collection(call, mailbox_id, rest[1:], TASK)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{head}'.")

    def _body(self, call: Call, entity: str | None = None) -> dict[str, Any]:
        try:
            body = json.loads(call.body or b"{}")
        except ValueError as exc:
            raise GraphError(400, "RequestBodyRead", f"Invalid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
        if entity is not None:
            unknown = metadata.unknown_properties(entity, body)
            if unknown:
                self.app.stats.add("schema_violations")
                raise GraphError(400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type "
                                                         f"'microsoft.graph.{entity}'.")
            for prop in body.get("singleValueExtendedProperties") or []:
                extra = metadata.unknown_properties("singleValueLegacyExtendedProperty", prop)
                if extra:
                    self.app.stats.add("schema_violations")
                    raise GraphError(400, "RequestBodyRead", f"The property '{extra[0]}' does not exist on "
                                                             "type 'microsoft.graph.singleValueLegacyExtendedProperty'.")
        return body

    # -- folders ----------------------------------------------------------------------------------
    def _folder(self, conn: sqlite3.Connection, mailbox_id: int, ref: str) -> FolderRow:
        if ref.lower() in WELL_KNOWN:
            found = self.store.distinguished(conn, mailbox_id, ref.lower())
            if found is None:
                raise GraphError(404, "ErrorFolderNotFound", "The specified folder could not be found in the store.")
            return found
        try:
            row = ids.parse_folder_id(shapes.ews_id(ref))
        except ids.MalformedId as exc:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from exc
        folder = self.store.folder(conn, row.row_id) if row.mailbox_id == mailbox_id else None
        if folder is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return folder

    def _folder_page(self, call: Call, conn: sqlite3.Connection, mailbox_id: int, parent: FolderRow,
                     classes: tuple[str, ...] | None, deep: bool = False) -> GraphReply:
        folders = self.store.all_folders(conn, mailbox_id)
        hidden = {r[0] for r in conn.execute("SELECT folder_id FROM graph_hidden")}
        counts = self.store.counts(conn, mailbox_id)
        children: dict[int, list[FolderRow]] = {}
        for f in folders:
            if f.parent_id is not None:
                children.setdefault(f.parent_id, []).append(f)
        below = list(children.get(parent.id, []))
        if deep:
            stack = list(below)
            while stack:
                current = stack.pop()
                more = children.get(current.id, [])
                below.extend(more)
                stack.extend(more)
        wanted = [f for f in below if not f.is_search and _in_class(f, classes)
                  and (f.id not in hidden or call.query.get("includeHiddenFolders") == "true")]
        name_filter = call.query.get("$filter")
        if name_filter:
            match = _NAME_EQ.match(name_filter.strip())
            if not match:
                raise GraphError(400, "BadRequest", "Unsupported $filter on folders.")
            name = match.group(2).replace("''", "'").casefold()
            wanted = [f for f in wanted if f.name.casefold() == name]
        values = [self._folder_json(mailbox_id, f, counts, len(children.get(f.id, [])), f.id in hidden, classes)
                  for f in wanted]
        return self._page(call, values)

    def _check_answer(self, entity: str, data: dict[str, Any]) -> None:
        """What the face answers must be what the metadata declares too (counted as schema violations)."""
        unknown = metadata.unknown_properties(entity, data)
        if unknown:
            self.app.stats.add("schema_violations")
            self.app.stats.add("graph:answer_violations")
            log.warning("graph face: answer of type %s has undeclared properties %s", entity, unknown[:5])

    def _folder_json(self, mailbox_id: int, folder: FolderRow, counts: dict, children: int, hidden: bool,
                     classes: tuple[str, ...] | None) -> dict[str, Any]:
        answer = self._folder_shape(mailbox_id, folder, counts, children, hidden, classes)
        entity = "mailFolder" if classes is None or classes == (None,) else {
            CALENDAR: "calendar", CONTACT: "contactFolder", TASK: "todoTaskList"}.get(classes[0] or "", "mailFolder")
        self._check_answer(entity, answer)
        return answer

    def _folder_shape(self, mailbox_id: int, folder: FolderRow, counts: dict, children: int, hidden: bool,
                      classes: tuple[str, ...] | None) -> dict[str, Any]:
        data = shapes.folder_json(mailbox_id, folder, counts, children, hidden)
        if classes is None or classes == (None,):
            return data
        if CALENDAR in classes:
            return {"id": data["id"], "name": folder.name, "canEdit": True, "isDefaultCalendar":
                    folder.distinguished_id == "calendar"}
        if TASK in classes:
            return {"id": data["id"], "displayName": folder.name, "isOwner": True, "isShared": False,
                    "wellknownListName": "defaultList" if folder.distinguished_id == "tasks" else "none"}
        return {"id": data["id"], "displayName": folder.name, "parentFolderId": data["parentFolderId"]}

    def _create_folder(self, call: Call, mailbox_id: int, parent: FolderRow, folder_class: str | None,
                       entity: str, name_key: str) -> GraphReply:
        body = self._body(call, entity)
        name = str(body.get(name_key) or "").strip()
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", f"The {name_key} is required.")
        with self.store.write() as conn:
            try:
                folder = self.store.create_folder(conn, mailbox_id, parent.id, name, folder_class)
            except FolderExists as exc:
                raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.") from exc
            if body.get("isHidden"):
                conn.execute("INSERT INTO graph_hidden(folder_id) VALUES (?)", (folder.id,))
        self.app.stats.add("folders_created")
        return _json(201, self._folder_json(mailbox_id, folder, {}, 0, bool(body.get("isHidden")),
                                            (folder_class,) if folder_class in _KIND else None))

    def _mail_folders(self, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
        method = call.method
        with self.store.connection() as conn:
            root = self._folder(conn, mailbox_id, "msgfolderroot")
            folder = self._folder(conn, mailbox_id, rest[0]) if rest else root
            if not rest or (len(rest) == 2 and rest[1] == "childFolders"):
                if method == "GET":
                    return self._folder_page(call, conn, mailbox_id, folder, None)
                if method == "POST":
                    return self._create_folder(call, mailbox_id, folder, "IPF.Note", "mailFolder", "displayName")
            elif len(rest) == 1 and method == "GET":
                hidden = conn.execute("SELECT 1 FROM graph_hidden WHERE folder_id=?", (folder.id,)).fetchone()
                kids = conn.execute("SELECT COUNT(*) FROM folders WHERE parent_id=?", (folder.id,)).fetchone()[0]
                return _json(200, self._folder_json(mailbox_id, folder, self.store.counts(conn, mailbox_id), kids,
                                                    bool(hidden), None))
            elif len(rest) == 1 and method == "DELETE":
                return self._delete_folder(conn, mailbox_id, folder)
            elif len(rest) == 2 and rest[1] == "messages":
                if method == "GET":
                    return self._items_page(call, conn, mailbox_id, folder, "Message")
                if method == "POST":
                    return self._create_message(call, mailbox_id, folder)
            elif len(rest) == 2 and rest[1] == "importMime" and method == "POST":
                if call.version != "beta" or not self.import_mime:
                    raise GraphError(400, "BadRequest", "Resource not found for the segment 'importMime'.")
                return self._import_mime(call, mailbox_id, folder)
        raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")

    def _delete_folder(self, conn: sqlite3.Connection, mailbox_id: int, folder: FolderRow) -> GraphReply:
        if folder.distinguished_id:
            raise GraphError(403, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
        with self.store.write() as wconn:
            doomed = [folder.id]
            index = 0
            while index < len(doomed):
                doomed += [r[0] for r in wconn.execute("SELECT id FROM folders WHERE parent_id=?", (doomed[index],))]
                index += 1
            marks = ",".join("?" * len(doomed))
            rows = [r[0] for r in wconn.execute(f"SELECT id FROM items WHERE folder_id IN ({marks})", doomed)]
            self.store.delete_items(wconn, rows)
            wconn.execute(f"DELETE FROM folders WHERE id IN ({marks})", doomed)
            wconn.execute(f"DELETE FROM graph_hidden WHERE folder_id IN ({marks})", doomed)
        return GraphReply(204)

    # -- calendars, contact folders, To Do lists --------------------------------------------------
    def _collection(self, call: Call, mailbox_id: int, rest: list[str], folder_class: str) -> GraphReply:
        """calendar[s][/{id}[/events]], contactFolders[/{id}[/childFolders|/contacts]], contacts,
        lists[/{id}[/tasks]] — all folders of the store with that container class."""
        method = call.method
        default_name = {CALENDAR: "calendar", CONTACT: "contacts", TASK: "tasks"}[folder_class]
        with self.store.connection() as conn:
            default = self.store.distinguished(conn, mailbox_id, default_name)
            if default is None:
                raise GraphError(404, "ErrorFolderNotFound", f"No default {default_name} folder.")
            head = rest[0]
            if head == "calendar" and len(rest) == 1 and method == "GET":
                return _json(200, self._folder_json(mailbox_id, default, {}, 0, False, (CALENDAR,)))
            if head == "calendar" and len(rest) == 2 and rest[1] == "events":
                folder, tail = default, "events"
            elif head == "contacts" and len(rest) == 1:
                folder, tail = default, "contacts"
            elif len(rest) == 1:  # calendars, contactFolders, lists: the collection itself
                if method == "GET":
                    deep = folder_class != CONTACT
                    top = self._folder(conn, mailbox_id, "msgfolderroot") if deep else default
                    return self._folder_page(call, conn, mailbox_id, top, (folder_class,), deep=deep)
                if method == "POST":
                    parent = self._folder(conn, mailbox_id, "msgfolderroot") if folder_class != CONTACT else default
                    entity = {CALENDAR: "calendar", CONTACT: "contactFolder", TASK: "todoTaskList"}[folder_class]
                    return self._create_folder(call, mailbox_id, parent, folder_class, entity,
                                               "name" if folder_class == CALENDAR else "displayName")
                raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")
            else:
                folder = self._folder(conn, mailbox_id, rest[1])
                if not _in_class(folder, (folder_class,)):
                    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
                tail = rest[2] if len(rest) > 2 else ""
            if tail == "" and method == "GET":
                return _json(200, self._folder_json(mailbox_id, folder, {}, 0, False, (folder_class,)))
            if tail == "" and method == "DELETE":
                return self._delete_folder(conn, mailbox_id, folder)
            if tail == "childFolders" and folder_class == CONTACT:
                if method == "GET":
                    return self._folder_page(call, conn, mailbox_id, folder, (CONTACT,))
                return self._create_folder(call, mailbox_id, folder, CONTACT, "contactFolder", "displayName")
            if tail in ("events", "contacts", "tasks"):
                if method == "GET":
                    return self._items_page(call, conn, mailbox_id, folder, _KIND[folder_class])
                if method == "POST":
                    return self._create_typed(call, mailbox_id, folder, folder_class)
        raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")

    # -- listing ----------------------------------------------------------------------------------
    def _page(self, call: Call, values: list[dict[str, Any]], total: int | None = None,
              skip: int = 0, top: int | None = None) -> GraphReply:
        answer: dict[str, Any] = {"value": values}
        if top is not None and total is not None and skip + top < total:
            query = dict(call.query)
            query["$skip"] = str(skip + top)
            path = "/".join(quote(s, safe="") for s in ["", call.version, *call.segments])
            answer["@odata.nextLink"] = (f"{call.base}{path}?"
                                         + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()))
        return _json(200, answer)

    def _items_page(self, call: Call, conn: sqlite3.Connection, mailbox_id: int, folder: FolderRow,
                    kind: str) -> GraphReply:
        limits = self.throttle.limits
        try:
            top = int(call.query.get("$top", "10"))
            skip = int(call.query.get("$skip", "0"))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $top or $skip.") from exc
        if top < 1 or top > limits.page_max:
            raise GraphError(400, "ErrorInvalidUrlQuery", f"$top must be between 1 and {limits.page_max}.")
        sql = "SELECT id FROM items i WHERE folder_id=?"
        params: list[Any] = [folder.id]
        ext_filter = call.query.get("$filter")
        if ext_filter:
            try:
                parsed = extprops.parse_filter(ext_filter)
            except (ValueError, extprops.BadPropertyId, props.PropertyError) as exc:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", str(exc)) from exc
            marks = ",".join("?" * len(parsed.values))
            sql += (" AND EXISTS (SELECT 1 FROM ext_props e WHERE e.item_id=i.id AND e.key=? "
                    f"AND e.value IN ({marks}))")
            params += [parsed.prop.key, *parsed.values]
        total = conn.execute(sql.replace("SELECT id", "SELECT COUNT(*)", 1), params).fetchone()[0]
        row_ids = [r[0] for r in conn.execute(sql + " ORDER BY id LIMIT ? OFFSET ?", [*params, top, skip])]
        wanted = self._expanded(call)
        rows = self.store.load_items(conn, row_ids, ext_keys=None)
        bodies = self._stored_bodies(conn, row_ids) if kind != "Message" else {}
        select = self._select(call, kind)
        values = [self._item_json(mailbox_id, rows[r], wanted, select, bodies.get(r), _wants_extensions(call))
                  for r in row_ids if r in rows]
        return self._page(call, values, total, skip, top)

    def _expanded(self, call: Call) -> list[extprops.PropertyId] | None:
        expand = call.query.get("$expand", "")
        if not expand or _wants_extensions(call):
            return None
        match = _EXPAND.match(expand.strip())
        if not match:
            raise GraphError(400, "BadRequest", f"Unsupported $expand: {expand[:80]}")
        try:
            return [extprops.parse_id(v.replace("''", "'")) for v in _ID_EQ.findall(match.group(1))]
        except extprops.BadPropertyId as exc:
            raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property id {exc}") from exc

    def _select(self, call: Call, kind: str) -> set[str] | None:
        text = call.query.get("$select")
        if not text:
            return None
        names = {s.strip() for s in text.split(",") if s.strip()}
        entity = {"Message": "message", "CalendarItem": "event", "Contact": "contact", "Task": "todoTask"}[kind]
        if metadata.available():
            unknown = sorted(names - metadata.properties(entity))
            if unknown:
                raise GraphError(400, "BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                                                    f"'microsoft.graph.{entity}'.")
        return names | {"id"}

    def _stored_bodies(self, conn: sqlite3.Connection, row_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(dict(conn.execute(f"SELECT item_id, body FROM graph_items WHERE item_id IN ({marks})",
                                         chunk).fetchall()))
        return out

    def _item_json(self, mailbox_id: int, item: ItemRow, wanted: list[extprops.PropertyId] | None,
                   select: set[str] | None, stored: str | None, extensions: bool = False) -> dict[str, Any]:
        data = shapes.message_json(mailbox_id, item) if item.kind not in _KIND.values() else \
            shapes.typed_json(mailbox_id, item, stored)
        self._check_answer({"Message": "message", "CalendarItem": "event", "Contact": "contact",
                            "Task": "todoTask"}.get(item.kind, "message"), data)
        if select is not None:
            data = {k: v for k, v in data.items() if k in select}
        if wanted is not None:
            data["singleValueExtendedProperties"] = shapes.extended(item, wanted)
        if extensions:
            found: dict[str, dict[str, Any]] = {}
            prefix = f"name:{_OPEN_EXTENSIONS}:"
            for key, value in item.ext.items():
                if key.startswith(prefix):
                    name, _, prop = key[len(prefix):].rpartition(".")
                    found.setdefault(name, {"@odata.type": "#microsoft.graph.openTypeExtension",
                                            "extensionName": name, "id": name})[prop] = value.value
            data["extensions"] = list(found.values())
        return data

    # -- one item ---------------------------------------------------------------------------------
    def _row(self, conn: sqlite3.Connection, mailbox_id: int, ref: str, kinds: tuple[str, ...]) -> ItemRow:
        try:
            row = ids.parse_item_id(shapes.ews_id(ref))
        except ids.MalformedId as exc:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from exc
        found = self.store.load_items(conn, [row.row_id], ext_keys=None) if row.mailbox_id == mailbox_id else {}
        item = found.get(row.row_id)
        if item is None or (item.kind not in kinds):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return item

    def _item(self, call: Call, mailbox_id: int, ref: str, kind: str) -> GraphReply:
        kinds = (kind,) if kind != "Message" else tuple(k for k in _ALL_KINDS if k not in _KIND.values())
        with self.store.connection() as conn:
            item = self._row(conn, mailbox_id, ref, kinds)
            stored = self._stored_bodies(conn, [item.id]).get(item.id)
        if call.method == "GET":
            return _json(200, self._item_json(mailbox_id, item, self._expanded(call), self._select(call, kind), stored,
                                              _wants_extensions(call)))
        if call.method == "DELETE":
            if kind == "CalendarItem" and stored and json.loads(stored).get("attendees"):
                self._log_sent(mailbox_id, "event.cancel", {"id": ref})
            with self.store.write() as conn:
                self.store.delete_items(conn, [item.id])
                conn.execute("DELETE FROM graph_items WHERE item_id=?", (item.id,))
            return GraphReply(204)
        if call.method == "PATCH":
            entity = {"Message": "message", "CalendarItem": "event", "Contact": "contact", "Task": "todoTask"}[kind]
            body = self._body(call, entity)
            return self._patch(mailbox_id, item, body, stored, kind)
        raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported here.")

    def _patch(self, mailbox_id: int, item: ItemRow, body: dict[str, Any], stored: str | None,
               kind: str) -> GraphReply:
        ext = _ext_values(body)
        ext += _mapped_ext(body)
        columns: dict[str, Any] = {}
        if "isRead" in body:
            columns["is_read"] = int(bool(body["isRead"]))
        for value in ext:
            if value.key == props.TAG_DELIVERY_TIME and isinstance(value.value, str):
                columns["received"] = value.value
            if value.key == props.TAG_SUBMIT_TIME and isinstance(value.value, str):
                columns["sent"] = value.value
            if value.key == props.TAG_MESSAGE_CLASS and isinstance(value.value, str):
                columns["item_class"] = value.value
            if value.key == props.TAG_MESSAGE_FLAGS:
                raise GraphError(400, "ErrorInvalidPropertyUpdateSentMessage",
                                 "PR_MESSAGE_FLAGS can only be set when the item is created.")
        if kind == "CalendarItem" and body.get("attendees"):
            self._log_sent(mailbox_id, "event.update", {"attendees": body["attendees"]})
        subject = body.get("subject", body.get("title", body.get("displayName")))
        if subject is not None and kind != "Message":
            columns["subject"] = str(subject)
        with self.store.write() as conn:
            sets = ", ".join(f"{k}=?" for k in columns)
            conn.execute(f"UPDATE items SET {sets + ', ' if sets else ''}modified=?, version=version+1 WHERE id=?",
                         [*columns.values(), now_iso(), item.id])
            _write_ext(conn, item.id, ext)
            if kind != "Message":
                merged = {**(json.loads(stored) if stored else {}), **body}
                conn.execute("INSERT OR REPLACE INTO graph_items(item_id, body) VALUES (?,?)",
                             (item.id, json.dumps(merged)))
            found = self.store.load_items(conn, [item.id], ext_keys=None)[item.id]
            new_stored = self._stored_bodies(conn, [item.id]).get(item.id)
        return _json(200, self._item_json(mailbox_id, found, None, None, new_stored))

    def _photo(self, call: Call, mailbox_id: int, ref: str) -> GraphReply:
        """A contact's photo (image/jpeg or image/png, at most 4 MB), kept as Exchange keeps it: an attachment
        named ContactPicture.jpg (IsContactPhoto on the EWS face)."""
        if not call.headers.get("content-type", "").lower().startswith("image/"):
            raise GraphError(415, "UnsupportedMediaType", "A photo takes Content-Type image/jpeg or image/png.")
        if not call.body or len(call.body) > 4 * 1024 * 1024:
            raise GraphError(400, "ErrorInvalidRequest", "A photo is 1 byte to 4 MB.")
        with self.store.connection() as conn:
            item = self._row(conn, mailbox_id, ref, ("Contact",))
        with self.store.write() as conn:
            conn.execute("DELETE FROM attachments WHERE item_id=? AND name='ContactPicture.jpg'", (item.id,))
            position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE item_id=?",
                                    (item.id,)).fetchone()[0]
            conn.execute("INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
                         "content_id, content) VALUES (?,?,?,?,?,?,0,'',?)",
                         (item.id, position, "ContactPicture.jpg", call.headers["content-type"], len(call.body),
                          hashlib.sha256(call.body).hexdigest(), call.body))
            conn.execute("UPDATE items SET has_attachments=1, version=version+1 WHERE id=?", (item.id,))
        return GraphReply(200)

    # -- upload sessions --------------------------------------------------------------------------
    def _upload_session(self, call: Call, mailbox_id: int, ref: str) -> GraphReply:
        body = self._body(call)
        attachment = body.get("AttachmentItem") or {}
        unknown = metadata.unknown_properties("attachmentItem", attachment)
        if unknown:
            self.app.stats.add("schema_violations")
            raise GraphError(400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type "
                                                     "'microsoft.graph.attachmentItem'.")
        with self.store.connection() as conn:
            item = self._row(conn, mailbox_id, ref, ("Message",))
        try:
            token = self.uploads.open(Session(call.app, call.segments[1].lower(), mailbox_id, item.id, str(attachment.get("name") or "attachment"),
                                              str(attachment.get("contentType") or "application/octet-stream"),
                                              int(attachment.get("size") or 0), bool(attachment.get("isInline")),
                                              str(attachment.get("contentId") or ""), time.monotonic() + 900))
        except UploadError as exc:
            raise GraphError(exc.status, exc.code, str(exc)) from exc
        self.app.stats.add("graph:upload_sessions")
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=900)
        return _json(201, {"uploadUrl": f"{call.base}{UPLOAD_PREFIX}{token}",
                           "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "nextExpectedRanges": ["0-"]})

    def upload(self, token: str, headers: dict[str, str], data: bytes) -> GraphReply:
        """PUT to an uploadUrl (pre-authenticated: no bearer token, as on Graph); the bytes count against the
        mailbox's upload budget like any other."""
        session = self.uploads.owner(token)
        if session is not None:
            throttled = self.throttle.enter(session.app, session.mailbox, len(data))
            if throttled is not None:
                self.app.stats.add(f"graph:429:{throttled.reason}")
                return _error(GraphError(429, "ApplicationThrottled", f"Application is over its {throttled.reason} "
                                         "limit.", [("Retry-After", str(int(throttled.retry_after)))]))
        try:
            done = self.uploads.put(token, headers.get("content-range", ""), data)
        except UploadError as exc:
            return _error(GraphError(exc.status, exc.code, str(exc)))
        finally:
            if session is not None:
                self.throttle.leave(session.app, session.mailbox)
        self.app.stats.add("graph:upload_bytes", len(data))
        if done is None:
            return _json(200, {"nextExpectedRanges": [self.uploads.next_expected(token)]})
        content = bytes(done.received)
        with self.store.write() as conn:
            position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE item_id=?",
                                    (done.item_id,)).fetchone()[0]
            conn.execute("INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
                         "content_id, content) VALUES (?,?,?,?,?,?,?,?,?)",
                         (done.item_id, position, done.name, done.content_type, len(content),
                          hashlib.sha256(content).hexdigest(), int(done.is_inline), done.content_id, content))
            conn.execute("UPDATE items SET has_attachments=1, size=size+?, version=version+1 WHERE id=?",
                         (len(content), done.item_id))
        return _json(201, {"name": done.name, "size": len(content)})

    # -- recurring series -------------------------------------------------------------------------
    def _series(self, mailbox_id: int, ref: str) -> tuple[ItemRow, dict[str, Any]]:
        with self.store.connection() as conn:
            item = self._row(conn, mailbox_id, ref, ("CalendarItem",))
            stored = self._stored_bodies(conn, [item.id]).get(item.id)
        event = json.loads(stored) if stored else {}
        if not event.get("recurrence"):
            raise GraphError(400, "ErrorInvalidRequest", "The event is not a recurring series master.")
        return item, event

    def _instances(self, call: Call, mailbox_id: int, ref: str) -> GraphReply:
        try:
            start = _utc_param(call.query["startDateTime"])
            end = _utc_param(call.query["endDateTime"])
        except (KeyError, ValueError) as exc:
            raise GraphError(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.") from exc
        item, event = self._series(mailbox_id, ref)
        try:
            found = graph_series.instances(event, start, end)
        except graph_series.SeriesError as exc:
            raise GraphError(400, "ErrorInvalidRecurrence", str(exc)) from exc
        master = shapes.graph_id(ids.item_id(mailbox_id, item.id))
        values = []
        for entry in found:
            original = dt.datetime.fromisoformat(entry["originalStart"].replace("Z", "+00:00"))
            values.append({"id": shapes.graph_id(ids.occurrence_id(mailbox_id, item.id, original)),
                           "seriesMasterId": master, "subject": entry.pop("subject", item.subject or ""), **entry})
        return self._page(call, values)

    def _occurrence(self, call: Call, mailbox_id: int, ref: str) -> GraphReply:
        occurrence = ids.parse_occurrence_id(shapes.ews_id(ref))
        if occurrence.mailbox_id != mailbox_id:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        master = shapes.graph_id(ids.item_id(mailbox_id, occurrence.row_id))
        item, event = self._series(mailbox_id, master)
        key = occurrence.original_start.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            originals = {o.strftime("%Y-%m-%dT%H:%M:%SZ") for o in graph_series.expand(event)}
        except graph_series.SeriesError as exc:
            raise GraphError(400, "ErrorInvalidRecurrence", str(exc)) from exc
        if key not in originals or key in (event.get("_cancelled") or []):
            raise GraphError(404, "ErrorItemNotFound", "The occurrence is not in the series (or was deleted).")
        if call.method == "DELETE":
            event["_cancelled"] = sorted({*(event.get("_cancelled") or []), key})
            (event.get("_exceptions") or {}).pop(key, None)
        elif call.method == "PATCH":
            body = self._body(call, "event")
            change = dict((event.get("_exceptions") or {}).get(key) or {})
            try:
                if body.get("start"):
                    change["start"] = graph_series.utc(body["start"]).isoformat()
                if body.get("end"):
                    change["end"] = graph_series.utc(body["end"]).isoformat()
            except (KeyError, ValueError) as exc:
                raise GraphError(400, "ErrorInvalidRequest", f"bad start or end: {exc}") from exc
            change.setdefault("start", occurrence.original_start.isoformat())
            change.setdefault("end", change["start"])
            for name in ("subject", "location", "showAs", "isReminderOn"):
                if name in body:
                    change[name] = body[name]
            event.setdefault("_exceptions", {})[key] = change
            if event.get("attendees"):
                self._log_sent(mailbox_id, "event.occurrence.update", {"original": key})
        else:
            raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported on an occurrence.")
        with self.store.write() as conn:
            conn.execute("INSERT OR REPLACE INTO graph_items(item_id, body) VALUES (?,?)", (item.id, json.dumps(event)))
            conn.execute("UPDATE items SET version=version+1, modified=? WHERE id=?", (now_iso(), item.id))
        return GraphReply(204) if call.method == "DELETE" else _json(200, {"id": ref, "originalStart": key})

    # -- creation ---------------------------------------------------------------------------------
    def _insert(self, mailbox_id: int, item: NewItem, body: dict[str, Any] | None = None) -> ItemRow:
        with self.store.write() as conn:
            (row_id,) = self.store.insert_items(conn, mailbox_id, [item])
            if body is not None:
                conn.execute("INSERT INTO graph_items(item_id, body) VALUES (?,?)", (row_id, json.dumps(body)))
            return self.store.load_items(conn, [row_id], ext_keys=None)[row_id]

    def _check_size(self, size: int) -> None:
        if size > self.app.limits.max_item_bytes:
            raise GraphError(413, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")

    def _create_message(self, call: Call, mailbox_id: int, folder: FolderRow) -> GraphReply:
        body = self._body(call, "message")
        self._check_size(len(call.body))
        ext = _ext_values(body) + _mapped_ext(body)
        by_key = {e.key: e for e in ext}
        flags = by_key.get(props.TAG_MESSAGE_FLAGS)
        is_draft = True
        is_read = bool(body.get("isRead", True))
        if flags is not None and isinstance(flags.value, str):
            is_draft = bool(int(flags.value) & props.MSGFLAG_UNSENT)
            if "isRead" not in body:
                is_read = bool(int(flags.value) & props.MSGFLAG_READ)
        klass = by_key.get(props.TAG_MESSAGE_CLASS)
        sent = by_key.get(props.TAG_SUBMIT_TIME)
        received = by_key.get(props.TAG_DELIVERY_TIME)
        attachments = _file_attachments(body.get("attachments") or [])
        item = NewItem(folder_id=folder.id, kind="Message",
                       item_class=str(klass.value) if klass else "IPM.Note", subject=str(body.get("subject") or ""),
                       is_draft=is_draft, is_read=is_read, sent=str(sent.value) if sent else None,
                       received=str(received.value) if received else None, size=len(call.body), mime=None,
                       fields={}, ext=ext, attachments=attachments,
                       message_id=str(body["internetMessageId"]) if body.get("internetMessageId") else None)
        row = self._insert(mailbox_id, item)
        self.app.stats.add("items_created")
        self.app.stats.add("graph:drafts_created" if is_draft else "graph:json_nondrafts")
        return _json(201, self._item_json(mailbox_id, row, None, None, None))

    def _import_mime(self, call: Call, mailbox_id: int, folder: FolderRow) -> GraphReply:
        if not call.headers.get("content-type", "").lower().startswith("text/plain"):
            raise GraphError(415, "UnsupportedMediaType", "importMime takes Content-Type text/plain (base64 MIME).")
        try:
            data = base64.b64decode(call.body, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string.") from exc
        self._check_size(len(data))
        try:
            parsed = mime.parse(data)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a conversion failure
            raise GraphError(400, "ErrorMimeContentConversionFailed", "MIME content conversion failed.") from exc
        # Content conversion promotes X- headers to named properties of PS_INTERNET_HEADERS (MS-OXCMAIL).
        ext = [ExtValue(f"name:00020386-0000-0000-c000-000000000046:{name}", "String", value)
               for name, value in _x_headers(data)]
        item = NewItem(folder_id=folder.id, kind="Message", item_class=parsed.item_class, subject=parsed.subject,
                       is_draft=False, is_read=False, sent=parsed.date_sent,
                       received=parsed.date_received or now_iso(), size=len(data), mime=data, fields={}, ext=ext,
                       attachments=parsed.attachments, message_id=parsed.message_id)
        row = self._insert(mailbox_id, item)
        self.app.stats.add("items_created")
        self.app.stats.add("graph:imported")
        return _json(201, self._item_json(mailbox_id, row, None, None, None))

    def _create_typed(self, call: Call, mailbox_id: int, folder: FolderRow, folder_class: str) -> GraphReply:
        body = self._body(call, _ENTITY[folder_class])
        self._check_size(len(call.body))
        ext = _ext_values(body) + _mapped_ext(body)
        for extension in body.get("extensions") or []:  # open extensions (To Do takes no MAPI properties)
            name = str(extension.get("extensionName") or "")
            for key, value in extension.items():
                if key not in ("@odata.type", "extensionName", "id") and isinstance(value, str | int | bool):
                    ext.append(ExtValue(f"name:{_OPEN_EXTENSIONS}:{name}.{key}", "String", str(value)))
        if folder_class == CALENDAR and body.get("attendees"):
            self._log_sent(mailbox_id, "event.invitations", {"subject": body.get("subject"),
                                                            "attendees": body["attendees"]})
        subject = body.get("subject") if folder_class == CALENDAR else body.get(
            "title" if folder_class == TASK else "displayName")
        by_key = {e.key: e for e in ext}  # PR_CLIENT_SUBMIT_TIME and PR_MESSAGE_DELIVERY_TIME, as on any item
        sent, received = by_key.get(props.TAG_SUBMIT_TIME), by_key.get(props.TAG_DELIVERY_TIME)
        item = NewItem(folder_id=folder.id, kind=_KIND[folder_class], item_class=_CLASS[folder_class],
                       subject=str(subject or ""), is_draft=False, is_read=True,
                       sent=str(sent.value) if sent else None, received=str(received.value) if received else None,
                       size=len(call.body), mime=None, fields=_ews_fields(folder_class, body), ext=ext, attachments=[])
        row = self._insert(mailbox_id, item, body)
        self.app.stats.add("items_created")
        return _json(201, self._item_json(mailbox_id, row, None, None, json.dumps(body)))

    # -- what would have been sent ----------------------------------------------------------------
    def _log_sent(self, mailbox_id: int, what: str, detail: dict[str, Any]) -> None:
        mailbox = self.store.mailbox_by_id(mailbox_id)
        entry = {"time": now_iso(), "mailbox": mailbox.address if mailbox else "", "what": what, "detail": detail}
        with self._sent_lock, open(self.app.data_dir / SENT_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
        self.app.stats.add("graph:would_send")

    def _record_send(self, mailbox_id: int, what: str, detail: dict[str, Any]) -> GraphReply:
        self._log_sent(mailbox_id, what, detail)
        return GraphReply(202)

    def sent(self) -> list[dict[str, Any]]:
        path = self.app.data_dir / SENT_LOG
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        config = dict(config)
        if "import_mime" in config:
            self.import_mime = bool(config.pop("import_mime"))
        self.throttle.configure(GraphLimits.from_dict({**self.throttle.limits.as_dict(), **config}))
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {**self.throttle.limits.as_dict(), "import_mime": self.import_mime}


_OPEN_EXTENSIONS = "00000000-0000-0000-0000-000000000000"  # where open extensions' values are kept
_ALL_KINDS = ("Message", "Item", "PostItem", "MeetingRequest", "CalendarItem", "Contact", "Task",
              "DistributionList")


def _utc_param(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _wants_extensions(call: Call) -> bool:
    return call.query.get("$expand", "").strip().lower().startswith("extensions")


def _in_class(folder: FolderRow, classes: tuple[str | None, ...] | None) -> bool:
    cls = folder.folder_class or ""
    if classes is None:  # mail folders: everything but the typed collections
        return not any(cls.startswith(c) for c in _KIND) and not cls.startswith("IPF.Configuration")
    return any(c is not None and cls.startswith(c) for c in classes)


def _ext_values(body: dict[str, Any]) -> list[ExtValue]:
    out = []
    for prop in body.get("singleValueExtendedProperties") or []:
        try:
            pid = extprops.parse_id(str(prop.get("id", "")))
            out.append(ExtValue(pid.key, pid.ptype, extprops.normalize(pid, prop.get("value"))))
        except (extprops.BadPropertyId, props.PropertyError) as exc:
            raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property: {exc}") from exc
    for prop in body.get("multiValueExtendedProperties") or []:
        try:
            pid = extprops.parse_id(str(prop.get("id", "")), multi=True)
            values = prop.get("value") or []
            out.append(ExtValue(pid.key, pid.ptype, extprops.normalize(pid, list(values))))
        except (extprops.BadPropertyId, props.PropertyError) as exc:
            raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property: {exc}") from exc
    return out


def _mapped_ext(body: dict[str, Any]) -> list[ExtValue]:
    """Graph's own properties that Exchange keeps as MAPI properties: categories, flag, importance."""
    out = []
    if isinstance(body.get("categories"), list):
        out.append(ExtValue(shapes.KEYWORDS, "StringArray", [str(c) for c in body["categories"]]))
    flag = body.get("flag")
    if isinstance(flag, dict) and flag.get("flagStatus"):
        status = {"flagged": "2", "complete": "1"}.get(str(flag["flagStatus"]))
        if status:
            out.append(ExtValue(shapes.FLAG_STATUS, "Integer", status))
    importance = body.get("importance")
    if importance in ("low", "normal", "high"):
        out.append(ExtValue(shapes.IMPORTANCE, "Integer", {"low": "0", "normal": "1", "high": "2"}[importance]))
    return out


def _write_ext(conn: sqlite3.Connection, item_id: int, ext: list[ExtValue]) -> None:
    for value in ext:
        if isinstance(value.value, list):
            conn.execute("INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                         (item_id, value.key, value.ptype, json.dumps(value.value), None))
        else:
            conn.execute("INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                         (item_id, value.key, value.ptype, value.value, props.numeric(value.ptype, value.value)))


def _file_attachments(values: list[dict[str, Any]]) -> list[mime.Attachment]:
    out = []
    for value in values:
        try:
            data = base64.b64decode(str(value.get("contentBytes") or ""))
        except (binascii.Error, ValueError) as exc:
            raise GraphError(400, "ErrorInvalidAttachment", "contentBytes is not valid base64.") from exc
        out.append(mime.Attachment(str(value.get("name") or "attachment"),
                                   str(value.get("contentType") or "application/octet-stream"), len(data),
                                   hashlib.sha256(data).hexdigest(), bool(value.get("isInline")),
                                   str(value.get("contentId") or ""), data))
    return out


def _x_headers(data: bytes) -> list[tuple[str, str]]:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out = []
    for match in re.finditer(r"^(X-[\w-]+):[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.MULTILINE | re.IGNORECASE):
        out.append((match.group(1), " ".join(match.group(2).split())))
    return out


_T = 'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'


def _element(name: str, text: str) -> str:
    from xml.sax.saxutils import escape

    return f"<t:{name} {_T}>{escape(text)}</t:{name}>"


def _ews_fields(folder_class: str, body: dict[str, Any]) -> dict[str, str]:
    """A few EWS fields of a typed item created over Graph, so the EWS face shows it too."""
    fields: dict[str, str] = {}
    if folder_class == CALENDAR:
        for key, name in (("start", "Start"), ("end", "End")):
            value = body.get(key) or {}
            if value.get("dateTime"):
                try:  # wall-clock time in the given zone (Windows or IANA name), kept in UTC like EWS's
                    moment = graph_series.utc(value)
                except (ValueError, KeyError, timezones.UnknownZone) as exc:
                    raise GraphError(400, "ErrorInvalidRequest", f"{key}: {exc}") from exc
                fields[name] = _element(name, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        location = (body.get("location") or {}).get("displayName")
        if location:
            fields["Location"] = _element("Location", str(location))
        if body.get("isAllDay"):
            fields["IsAllDayEvent"] = _element("IsAllDayEvent", "true")
    return fields


_TOKEN_PATH = re.compile(r"^/[\w.-]+/(oauth2/v2\.0/token|v2\.0/\.well-known/openid-configuration)$")


def is_graph_path(path: str) -> bool:
    """Requests the Graph face answers: /v1.0/…, /beta/…, and the token endpoint /{tenant}/oauth2/v2.0/token."""
    return path.startswith(("/v1.0/", "/beta/", UPLOAD_PREFIX)) or bool(_TOKEN_PATH.match(path))
