"""`--help` of every command, checked by walking the parsers: every option has help text naming its default
(or saying it is required), no help names a source file, and "(default ./.rebuild)" only where the command
does use that state directory without being told.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from pipeline.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "rebuild") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:  # internal flags (the embedded sandbox's start-up)
            continue
        yield action


def test_every_option_of_every_command_has_help_with_its_default():
    parsers = dict(_parsers(build_parser()))
    assert {
        "rebuild run",
        "rebuild verify",
        "rebuild inspect",
        "rebuild export",
        "rebuild status",
        "rebuild worker",
        "rebuild x500",
        "rebuild sandbox serve",
        "rebuild sandbox add-app",
    } <= set(parsers)
    missing, no_default, source_paths = [], [], []
    for name, parser in parsers.items():
        for action in _options(parser):
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            text = action.help or ""
            if not text.strip():
                missing.append(where)
                continue
            if re.search(r"\b[\w/]+\.py\b", text):
                source_paths.append(f"{where}: {text}")
            if action.option_strings and not action.required and not re.search(r"default|required", text):
                no_default.append(f"{where}: {text}")
    assert missing == [], "options without help text: " + ", ".join(missing)
    assert no_default == [], "options whose help names no default:\n" + "\n".join(no_default)
    assert source_paths == [], "help naming source files:\n" + "\n".join(source_paths)


def test_help_groups_by_concern_and_says_the_state_default_only_where_true():
    parsers = dict(_parsers(build_parser()))
    titles = {group.title for group in parsers["rebuild run"]._action_groups}
    assert {
        "what to read",
        "where to write",
        "EWS (Exchange on-premises)",
        "Microsoft Graph (Exchange Online)",
        "many users (--map)",
        "many machines (Temporal)",
        "selection",
        "safety",
        "tuning",
    } <= titles
    for name in ("rebuild inspect", "rebuild export", "rebuild x500"):  # no state directory unless given
        (state,) = [a for a in parsers[name]._actions if "--state" in a.option_strings]
        assert "./.rebuild" not in state.help, name
    (state,) = [a for a in parsers["rebuild run"]._actions if "--state" in a.option_strings]
    assert "(default ./.rebuild)" in state.help
    recover = [a for a in parsers["rebuild run"]._actions if "--recover" in a.option_strings][0]
    assert "libpff" not in recover.help  # the native reader is the default and finds them too


def test_the_sandbox_and_the_run_share_the_item_size_default():
    from pipeline.sandbox.limits import Limits
    from pipeline.settings import load_settings

    assert Limits().max_item_bytes == load_settings({}).max_item_mb * 1024 * 1024
    serve = dict(_parsers(build_parser()))["rebuild sandbox serve"]
    (flag,) = [a for a in serve._actions if "--max-item-mb" in a.option_strings]
    assert f"default {load_settings({}).max_item_mb}" in flag.help
