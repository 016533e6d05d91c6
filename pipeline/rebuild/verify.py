"""`rebuild verify`: the source and the server compared folder by folder, without trusting the journal.

Per folder, the multiset of identities on the server against the source (so copies in the source count):
missing items, doubled items, items that sit in another folder than their source folder's, stamped items
the source lacks, and stamped folders under the rebuilt tree that no source folder explains (a stray copy
of a folder). The same folder and item selection as the run (--only/--exclude/--since, a CSV row's columns).
"""

from __future__ import annotations

from collections import Counter

from pipeline.destination.base import Destination, Mailbox, MailboxFatalError, NoSuchMailbox
from pipeline.fingerprint import Ordinals, fingerprint
from pipeline.folder_plan import plan_folders
from pipeline.logs.terminal import shown
from pipeline.model import SourceError
from pipeline.rebuild.run import RunOptions
from pipeline.rebuild.verify_merge import ExistingFolders, verify_set
from pipeline.rebuild.verify_result import FolderCheck, StrayFolder, VerifyResult
from pipeline.source import open_source


def verify_mailbox(options: RunOptions, destination: Destination) -> VerifyResult:
    result = VerifyResult(options.mailbox, str(options.ost))
    try:
        mailbox = destination.open(options.mailbox, options.target_root)
        try:
            if options.merging:
                verify_set(options, mailbox, result)
            else:
                _verify(options, mailbox, result)
        finally:
            mailbox.close()
    except NoSuchMailbox:
        result.fatal = "no such mailbox on the server"
        result.no_mailbox = True
    except MailboxFatalError as exc:
        result.fatal = str(exc)
    except Exception as exc:  # noqa: BLE001 - one mailbox's failure is reported, never a traceback
        result.fatal = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return result


def _verify(options: RunOptions, mailbox: Mailbox, result: VerifyResult) -> None:
    with open_source(options.ost, codepage=options.codepage) as source:
        folders = source.folders()
        plan = plan_folders(folders)
        selection = options.selection.bind(folders)
        server_folder = ExistingFolders(plan, mailbox)

        wanted_by: dict[str, Counter[str]] = {}  # by server folder
        have_by: dict[str, Counter[str]] = {}
        labels: dict[str, str] = {}  # the source folder path(s) of each
        for folder in folders:
            if selection.folder_skip(folder) or folder.node_id not in plan:
                continue
            wanted: Counter[str] = Counter()
            ordinals = Ordinals(plan[folder.node_id].identity_scope)
            for entry in source.items(folder):
                if isinstance(entry, SourceError):
                    result.unreadable += 1
                    continue
                identity = ordinals.next(fingerprint(entry))
                if not selection.item_skip(entry):
                    wanted[identity] += 1
            target = server_folder(plan[folder.node_id])
            key = target.id if target is not None else f"missing:{folder.node_id}"
            if key in have_by:  # a server folder two source folders share (Outbox and Drafts): one count
                wanted_by[key].update(wanted)
                labels[key] += f" + {folder.path_str}"
                continue
            have: Counter[str] = Counter()
            for stamp in mailbox.stamps(target) if target is not None else ():
                result.pending += stamp.pending
                have[stamp.identity] += 1
            wanted_by[key], have_by[key], labels[key] = wanted, have, folder.path_str
        for planned in plan.values():  # folders outside the selection explain their own items too
            server_folder(planned)
        mapped = {f.id for f in server_folder.resolved.values() if f is not None}
        result.strays = [
            StrayFolder(f.name, n)
            for f in mailbox.folders_below()
            if f.id not in mapped and (n := len(mailbox.stamps(f)))
        ]
    _compare(wanted_by, have_by, labels, result)


def _compare(
    wanted_by: dict[str, Counter[str]], have_by: dict[str, Counter[str]], labels: dict[str, str], result: VerifyResult
) -> None:
    """Per folder: missing, doubled, extra; an identity missing here but extra elsewhere is misplaced."""
    extra_anywhere: Counter[str] = Counter()
    for path, have in have_by.items():
        wanted = wanted_by[path]
        extra_anywhere.update({i: n - wanted[i] for i, n in have.items() if i not in wanted})
    for key, wanted in wanted_by.items():
        have = have_by[key]
        lacking = {i: n - have[i] for i, n in wanted.items() if have[i] < n}
        misplaced = sum(min(n, extra_anywhere[i]) for i, n in lacking.items())
        if not wanted and not have:
            continue
        result.folders.append(
            FolderCheck(
                path=labels[key],
                source=sum(wanted.values()),
                server=sum(have.values()),
                missing=sum(lacking.values()) - misplaced,
                duplicated=sum(n - max(wanted[i], 1) for i, n in have.items() if n > max(wanted[i], 1)),
                extra=sum(n for i, n in have.items() if i not in wanted),
                misplaced=misplaced,
            )
        )


def render(result: VerifyResult) -> str:
    if result.fatal:  # nothing was compared: one line, no table of zeros
        return f"{shown(result.mailbox)} <- {shown(result.source)}: cannot verify: {shown(result.fatal)}"
    lines = [f"{shown(result.mailbox)} <- {shown(result.source)}: {'OK' if result.ok else 'NOT OK'}"]
    for check in result.folders:
        flag = "" if not (check.missing or check.duplicated or check.misplaced) else "  <--"
        lines.append(
            f"  {shown(check.path) or '(top)'}: source {check.source}, server {check.server}, missing "
            f"{check.missing}, duplicated {check.duplicated}, in another folder {check.misplaced}, "
            f"extra {check.extra}{flag}"
        )
    for stray in result.strays:
        lines.append(
            f"  stray folder {shown(repr(stray.name))}: {stray.items} rebuilt items no source folder explains  <--"
        )
    lines.append(
        f"  total: missing {result.missing}, duplicated {result.duplicated}, in another folder "
        f"{result.misplaced}, extra {result.extra}, stray folders {len(result.strays)}, "
        f"unreadable in source {result.unreadable}, series pending {result.pending}"
        + (f", in an older state {result.stale}" if result.stale else "")
    )
    return "\n".join(lines)
