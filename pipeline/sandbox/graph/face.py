"""The Graph face's requests: token endpoint, $batch, mail folders and messages (JSON and importMime),
calendars and events, contact folders and contacts, To Do lists and tasks, over the sandbox's one store.

Exchange Online's documented behaviours kept: a message created through the API is a draft unless
PR_MESSAGE_FLAGS is set at creation without the unsent bit; importMime (beta only) makes a delivered
message keeping its MIME; an event with attendees would send invitations (the face records every
message that would have been sent instead of sending it); 429 with Retry-After beyond the per-mailbox
budgets; $batch of at most 20 requests; pages of at most 1000 with @odata.nextLink.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.sandbox import ids
from pipeline.sandbox.graph import (
    attachments,
    batch,
    contacts,
    events,
    folders,
    items,
    messages,
    metadata,
    move,
    outlook_settings,
    shapes,
    state,
)
from pipeline.sandbox.graph.kinds import CALENDAR, CONTACT, TASK
from pipeline.sandbox.graph.sent import SentLog
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.throttle import GraphLimits, Throttle
from pipeline.sandbox.graph.tokens import TokenIssuer, openid_configuration
from pipeline.sandbox.graph.uploads import UPLOAD_PREFIX, Uploads
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, error_reply, json_reply
from pipeline.sandbox.graph.wirelog import WireLog, folder_name

log = logging.getLogger("pipeline.sandbox.graph")

VERSIONS = ("v1.0", "beta")
_SIDE_TABLES = """
CREATE TABLE IF NOT EXISTS graph_hidden(folder_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS graph_items(item_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graph_search_folders(folder_id INTEGER PRIMARY KEY, filter TEXT NOT NULL,
    sources TEXT NOT NULL, nested INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS graph_mailbox_settings(mailbox_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graph_message_rules(id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, body TEXT NOT NULL);
"""


class GraphFace:
    """The Graph face of one server: entry (tokens, discovery, upload PUTs), throttling and faults around each
    request, and routing to the resource modules of this package."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tokens = TokenIssuer(app.data_dir, app.store)
        self.state = GraphState(
            app.store,
            app.stats,
            app.data_dir,
            lambda: app.limits,
            Throttle(GraphLimits()),
            Uploads(),
            SentLog(app.data_dir, app.store, app.stats),
        )
        self.wirelog = WireLog()
        with app.store.connection() as conn:
            conn.executescript(_SIDE_TABLES)
        if metadata.available():
            threading.Thread(target=metadata.properties, args=("message",), daemon=True).start()

    def precheck(self, method: str, target: str, headers: dict[str, str]) -> GraphReply | None:
        """The answer to a request refused from its headers alone (unknown version, no valid bearer token,
        unknown upload session), before its body is read; None when the body may be read."""
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if len(segments) in (4, 5) and segments[1] in ("oauth2", "v2.0"):
            return None  # the token endpoint (credentials in the body) and msal's discovery document
        if parts.path.startswith(UPLOAD_PREFIX):
            if method == "PUT" and self.state.uploads.owner(parts.path[len(UPLOAD_PREFIX) :]) is None:
                return error_reply(GraphError(404, "ItemNotFound", "The upload session does not exist or has expired."))
            return None
        if not segments or segments[0] not in VERSIONS:
            return error_reply(GraphError(400, "BadRequest", f"Invalid version: {segments[0] if segments else ''}"))
        if self.tokens.check(headers.get("authorization", "")) is None:
            self.app.stats.add("graph:401")
            return error_reply(GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid."))
        return None

    @staticmethod
    def too_large(limit: int) -> GraphReply:
        """A body over the server's request limit, refused as Graph's front end does: 413 with Graph's error
        JSON (the status is documented for Graph, learn.microsoft.com/graph/errors; the code is assumed)."""
        return error_reply(
            GraphError(413, "RequestEntityTooLarge", f"The request body exceeds the maximum of {limit} bytes.")
        )

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base: str) -> GraphReply:
        parts = urlsplit(target)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if method == "POST" and len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, answer = self.tokens.issue(form)
            self.app.stats.add(f"graph:token:{status}")
            return json_reply(status, answer)
        if method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return json_reply(200, openid_configuration(base, segments[0]))
        if parts.path.startswith(UPLOAD_PREFIX):
            if method != "PUT":
                return error_reply(GraphError(405, "ErrorInvalidRequest", "Upload URLs take PUT."))
            arrived = time.time()
            reply = attachments.upload(self.state, parts.path[len(UPLOAD_PREFIX) :], headers, body)
            self.wirelog.add(
                {
                    "at": arrived,
                    "done": time.time(),
                    "method": method,
                    "path": "sandbox-upload",
                    "user": None,
                    "status": reply.status,
                    "folder": None,
                }
            )
            return reply
        if not segments or segments[0] not in VERSIONS:
            return error_reply(GraphError(400, "BadRequest", f"Invalid version: {segments[0] if segments else ''}"))
        app_id = self.tokens.check(headers.get("authorization", ""))
        if app_id is None:
            self.app.stats.add("graph:401")
            return error_reply(GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid."))
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        call = Call(app_id, segments[0], method, segments[1:], query, headers, body, base)
        if call.segments == ["$batch"] and method == "POST":
            return batch.batch(self.state, call, self._guarded)
        return self._guarded(call)

    def _guarded(self, call: Call, in_batch: bool = False) -> GraphReply:
        """One routed request, logged (wirelog.py)."""
        arrived = time.time()
        reply, mailbox_id = self._answer(call, in_batch)
        rest = call.segments[2:]
        if mailbox_id is None and len(call.segments) > 1:  # refused before routing: the folder it aimed at
            found = self.state.store.mailbox(call.segments[1].lower())
            mailbox_id = found.id if found is not None else None
        self.wirelog.add(
            {
                "at": arrived,
                "done": time.time(),
                "method": call.method,
                "path": "/".join(rest),
                "user": call.segments[1].lower() if len(call.segments) > 1 else None,
                "status": reply.status,
                "dropped": reply.drop,
                "batch": in_batch,
                "folder": folder_name(self.state, mailbox_id, rest, reply),
            }
        )
        return reply

    def _answer(self, call: Call, in_batch: bool) -> tuple[GraphReply, int | None]:
        """Throttling, faults and errors around one routed request; the mailbox's row id when known."""
        if len(call.segments) < 2 or call.segments[0] != "users":
            return error_reply(GraphError(400, "BadRequest", "Resource not found for the segment.")), None
        user = call.segments[1].lower()
        operation = self._operation(call)
        self.app.stats.add(operation)
        upload = len(call.body) if operation.startswith("Graph:create") else 0
        throttled = self.state.throttle.enter(call.app, user, upload)
        if throttled is not None:
            self.app.stats.add(f"graph:429:{throttled.reason}")
            return throttled.reply(), None
        mailbox_id: int | None = None
        try:
            faults = self.app.faults.decide(operation, user)
            if faults.reset and not in_batch:
                return GraphReply(0, reset=True), None
            if faults.delay:  # per request, $batch parts too (they run up to 4 at once, as on Graph)
                time.sleep(faults.delay)
            if faults.http_status:
                return error_reply(
                    GraphError(
                        faults.http_status,
                        "ServiceUnavailable" if faults.http_status == 503 else "InternalServerError",
                        "Injected fault.",
                        [("Retry-After", "1")] if faults.http_status == 503 else [],
                    )
                ), None
            if faults.throttle_ms is not None:
                return error_reply(
                    GraphError(
                        429,
                        "ApplicationThrottled",
                        "Injected throttling.",
                        [("Retry-After", str(max(1, round(faults.throttle_ms / 1000))))],
                    )
                ), None
            if faults.error_code:
                return error_reply(GraphError(500, faults.error_code, f"Injected fault {faults.error_code}.")), None
            mailbox = self.state.store.mailbox(user)
            if mailbox is None:
                raise GraphError(404, "ErrorInvalidUser", f"The requested user '{call.segments[1]}' is invalid.")
            mailbox_id = mailbox.id
            reply = self._route(call, mailbox.id, call.segments[2:])
            if faults.commit_then_drop and not in_batch:
                return GraphReply(0, drop=True), mailbox_id
            return reply, mailbox_id
        except GraphError as exc:
            self.app.stats.add(f"graph:error:{exc.code}")
            return error_reply(exc), mailbox_id
        except Exception:  # noqa: BLE001 - a bug answers like a server error
            log.error("graph face: %s failed:\n%s", operation, traceback.format_exc())
            self.app.stats.add("internal_errors")
            return error_reply(GraphError(500, "InternalServerError", "An internal server error occurred.")), mailbox_id
        finally:
            self.state.throttle.leave(call.app, user)

    @staticmethod
    def _operation(call: Call) -> str:
        rest = call.segments[2:]
        last = rest[-1] if rest else ""
        if call.method == "POST" and last == "importMime":
            return "Graph:createImportMime"
        if call.method == "POST" and last in ("move", "copy") and rest[:1] == ["messages"]:
            return f"Graph:{last}Message"  # a move stores the message anew: commit-then-drop hits it too
        if call.method == "POST" and last in ("messages", "events", "contacts", "tasks"):
            return f"Graph:create{last[:-1].title()}"
        nouns = [
            s
            for s in rest
            if s
            in (
                "mailFolders",
                "childFolders",
                "messages",
                "calendars",
                "calendar",
                "events",
                "contactFolders",
                "contacts",
                "todo",
                "lists",
                "tasks",
                "masterCategories",
                "mailboxSettings",
                "messageRules",
            )
        ]
        return f"Graph:{call.method}:{'/'.join(nouns)}"

    def _route(self, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
        method = call.method
        head = rest[0] if rest else ""
        if head == "mailFolders" and rest[2:3] == ["messageRules"]:
            with self.state.store.connection() as conn:
                inbox = folders.resolve_folder(self.state, conn, mailbox_id, "inbox")
                if folders.resolve_folder(self.state, conn, mailbox_id, rest[1]).id != inbox.id:
                    raise GraphError(400, "ErrorInvalidRequest", "Rules are kept on the Inbox only.")
            return outlook_settings.message_rules(self.state, call, mailbox_id, rest[3:])
        if head == "mailFolders":
            return folders.mail_folders(self.state, call, mailbox_id, rest[1:])
        if rest[:2] == ["outlook", "masterCategories"]:
            return outlook_settings.categories(self.state, call, mailbox_id, rest[2:])
        if head == "mailboxSettings":
            return outlook_settings.mailbox_settings_resource(self.state, call, mailbox_id, rest[1:])
        if head == "messages" and len(rest) == 3 and rest[2] in ("move", "copy") and method == "POST":
            return move.move_or_copy(self.state, call, mailbox_id, rest[1], rest[2])
        if head == "messages" and len(rest) == 2:
            return items.serve_item(self.state, call, mailbox_id, rest[1], "Message")
        if head == "messages" and rest[2:] == ["$value"] and method == "GET":
            return messages.mime_value(self.state, mailbox_id, rest[1])
        if head == "messages" and rest[2:3] == ["attachments"] and len(rest) in (3, 4) and method == "GET":
            return attachments.listing(self.state, call, mailbox_id, rest[1], rest[3] if len(rest) == 4 else None)
        if head == "messages" and rest[2:] == ["attachments", "createUploadSession"] and method == "POST":
            return attachments.upload_session(self.state, call, mailbox_id, rest[1])
        if head == "messages" and len(rest) == 3 and rest[2] == "send" and method == "POST":
            return self.state.sent.record(mailbox_id, "message.send", {"id": rest[1]})
        if head == "sendMail" and method == "POST":
            return self.state.sent.record(mailbox_id, "sendMail", state.read_body(self.state, call))
        if head in ("calendar", "calendars"):
            return folders.collection(self.state, call, mailbox_id, rest, CALENDAR)
        if head == "events" and len(rest) == 1 and method == "POST":  # the default calendar's events
            return folders.collection(self.state, call, mailbox_id, ["calendar", "events"], CALENDAR)
        if head == "events" and len(rest) == 2 and ids.is_occurrence_id(shapes.ews_id(rest[1])):
            return events.serve_occurrence(self.state, call, mailbox_id, rest[1])
        if head == "events" and len(rest) == 3 and rest[2] == "instances" and method == "GET":
            return events.instances(self.state, call, mailbox_id, rest[1])
        if head == "events" and len(rest) == 2:
            return items.serve_item(self.state, call, mailbox_id, rest[1], "CalendarItem")
        if head == "contactFolders" or (head == "contacts" and len(rest) == 1):
            return folders.collection(self.state, call, mailbox_id, rest, CONTACT)
        if head == "contacts" and rest[2:] == ["photo", "$value"] and method == "PUT":
            return contacts.photo(self.state, call, mailbox_id, rest[1])
        if head == "contacts" and len(rest) == 2:
            return items.serve_item(self.state, call, mailbox_id, rest[1], "Contact")
        if rest[:2] == ["todo", "lists"]:
            if len(rest) == 5 and rest[3] == "tasks":
                return items.serve_item(self.state, call, mailbox_id, rest[4], "Task")
            if len(rest) == 7 and rest[3] == "tasks" and rest[5] == "extensions" and method == "PATCH":
                return items.patch_extension(self.state, call, mailbox_id, rest[4], rest[6])
            return folders.collection(self.state, call, mailbox_id, rest[1:], TASK)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{head}'.")

    def sent(self) -> list[dict[str, Any]]:
        return self.state.sent.entries()

    def log(self) -> list[dict[str, Any]]:
        """The requests answered so far (wirelog.py), oldest first."""
        return self.wirelog.entries()

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        config = dict(config)
        if "import_mime" in config:
            self.state.import_mime = bool(config.pop("import_mime"))
        self.state.throttle.configure(GraphLimits.from_dict({**self.state.throttle.limits.as_dict(), **config}))
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {**self.state.throttle.limits.as_dict(), "import_mime": self.state.import_mime}


_TOKEN_PATH = re.compile(r"^/[\w.-]+/(oauth2/v2\.0/token|v2\.0/\.well-known/openid-configuration)$")


def is_graph_path(path: str) -> bool:
    """Requests the Graph face answers: /v1.0/…, /beta/…, and the token endpoint /{tenant}/oauth2/v2.0/token."""
    return path.startswith(("/v1.0/", "/beta/", UPLOAD_PREFIX)) or bool(_TOKEN_PATH.match(path))
