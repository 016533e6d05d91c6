"""Plain-HTTP and plain-exchangelib listings of a sandbox mailbox, written for the Graph tests' verdicts.

Independent of pipeline/destination: a client-credentials token by hand, Graph's documented URLs and
paging, and exchangelib's own folder walk over the EWS face of the same store.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

FINGERPRINT = "String {74594eaa-9d20-45ad-b806-df062a3740a3} Name RebuildFingerprint"
CLIENT_ID, SECRET, TENANT = "test-app", "app-Secret-for-tests", "contoso"


class PlainGraph:
    def __init__(self, base: str, mailbox: str) -> None:
        token = httpx.post(
            f"{base}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        self.http = httpx.Client(
            base_url=f"{base}/v1.0/users/{mailbox}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def get(self, path: str, **params: str) -> Any:
        answer = self.http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def all(self, path: str, **params: str) -> list[dict[str, Any]]:
        page = self.get(path, **{"$top": "1000", **params})
        out = list(page["value"])
        while page.get("@odata.nextLink"):
            answer = self.http.get(page["@odata.nextLink"])
            assert answer.status_code == 200, answer.text
            page = answer.json()
            out.extend(page["value"])
        return out

    def messages(self, folder: str) -> list[dict[str, Any]]:
        return self.all(
            f"/mailFolders/{folder}/messages",
            **{"$expand": f"singleValueExtendedProperties($filter=id eq '{FINGERPRINT}')"},
        )

    def child(self, parent: str, name: str) -> str:
        found = [f for f in self.all(f"/mailFolders/{parent}/childFolders") if f["displayName"] == name]
        assert len(found) == 1, (parent, name, found)
        return found[0]["id"]

    def events(self) -> list[dict[str, Any]]:
        return self.all(
            "/calendar/events", **{"$expand": f"singleValueExtendedProperties($filter=id eq '{FINGERPRINT}')"}
        )

    def contacts(self) -> list[dict[str, Any]]:
        return self.all("/contacts", **{"$expand": f"singleValueExtendedProperties($filter=id eq '{FINGERPRINT}')"})

    def tasks(self) -> list[dict[str, Any]]:
        (default,) = [t for t in self.all("/todo/lists") if t.get("wellknownListName") == "defaultList"]
        return self.all(f"/todo/lists/{default['id']}/tasks", **{"$expand": "extensions"})


def stamp(entry: dict[str, Any]) -> str | None:
    for prop in entry.get("singleValueExtendedProperties") or []:
        return prop["value"]
    for extension in entry.get("extensions") or []:
        return extension.get("identity")
    return None


def ews_listing(url: str, user: str, password: str, mailbox: str) -> dict[str, Counter]:
    """Subjects per folder path (below the top of the store) through the EWS face, plain exchangelib."""
    from exchangelib import IMPERSONATION, Account, Configuration, Credentials, FailFast
    from exchangelib.folders import Folder

    config = Configuration(
        service_endpoint=url, credentials=Credentials(user, password), auth_type="basic", retry_policy=FailFast()
    )
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    root = account.msg_folder_root
    out: dict[str, Counter] = {}
    for folder in root.walk():
        if not isinstance(folder, Folder) or not folder.total_count:
            continue
        path = folder.absolute.split(root.absolute + "/", 1)[-1]
        out[path] = Counter(i.subject for i in folder.all().only("subject"))
    return out
