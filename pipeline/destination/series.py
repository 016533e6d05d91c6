"""Finishing a recurring series, for every destination: its deleted and modified occurrences applied and
its pending stamp cleared in one call into the destination, whose typed Outcome the run journals.

A series is created whole with its pending stamp set (pipeline.fingerprint); a failure while finishing it
leaves it PENDING on the server and in the journal, and the rerun, finding the stamp, finishes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pipeline.destination.base import MailboxFatalError, Outcome, OutcomeState, ServerFolder
from pipeline.item_values.item_warnings import ItemWarning, series_pending
from pipeline.model import UploadItem


def finished(upload: UploadItem, server_id: str, apply: Callable[[], list[ItemWarning]]) -> Outcome:
    """The outcome of finishing one series: apply() applies its exceptions and clears the stamp, returning
    what it could not carry. UPLOADED (no longer pending) with those notes, or PENDING with the reason."""
    try:
        notes = apply()
    except MailboxFatalError:
        raise
    except Exception as exc:  # noqa: BLE001 - the series exists; the rerun finishes its exceptions
        note = series_pending(exc)
        return Outcome(
            dataclasses.replace(upload, warnings=[*upload.warnings, note]),
            OutcomeState.PENDING,
            server_id=server_id,
            notes=(note,),
        )
    done = dataclasses.replace(upload, series_pending=False, warnings=[*upload.warnings, *notes])
    return Outcome(done, OutcomeState.UPLOADED, server_id=server_id, notes=tuple(notes))


def finishing(
    outcome: Outcome, folder: ServerFolder | None, finish: Callable[[ServerFolder, str, UploadItem], Outcome] | None
) -> Outcome:
    """The outcome a sender hands the run: a series just created is finished first (in the run's thread)."""
    if (
        finish is None
        or folder is None
        or outcome.state is not OutcomeState.UPLOADED
        or not outcome.item.series_pending
    ):
        return outcome
    return finish(folder, str(outcome.server_id), outcome.item)
