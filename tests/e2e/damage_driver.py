"""The worker behind test_damage_tally: runs `rebuild` commands in-process, one after the other, on damaged
files, and reports each outcome as a JSON line on stdout.

Input (stdin, JSON): {"jobs": [[variant index, path], ...], "out": DIR, "state": DIR}. For each variant it
runs `inspect`, `export` and the main job with --dry-run; when the main job refuses the file (exit 2) it runs
it again for real against the embedded sandbox, to show that nothing is created on the server. Before each
command it prints {"start": ...} so that the parent can name the command that hangs (and kill us).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback


def run(argv: list[str]) -> tuple[int, str, str]:
    from pipeline.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - what escapes main() is exactly what the test looks for
            code = -1
            err.write(traceback.format_exc())
    return code, out.getvalue(), err.getvalue()


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main() -> None:
    job = json.loads(sys.stdin.read())
    out_root, state = job["out"], job["state"]
    for index, path in job["jobs"]:
        mailbox = f"v{index}@sandbox.local"
        commands = {
            "inspect": ["inspect", "--ost", path],
            "export": ["export", "--ost", path, "--out", f"{out_root}/{index}"],
            "run": ["--ost", path, "--mailbox", mailbox, "--state", state, "--dry-run", "--log-level", "error"],
        }
        codes: dict[str, int] = {}
        for name, argv in [*commands.items(), ("run-for-real", None)]:
            if argv is None:  # only for files the main job refused: it must create nothing on the server
                if codes["run"] != 2:
                    continue
                argv = ["--ost", path, "--mailbox", mailbox, "--state", state, "--log-level", "error"]
            emit({"start": [index, name]})
            started = time.monotonic()
            code, _out, err = run(argv)
            codes[name] = code
            emit(
                {
                    "index": index,
                    "command": name,
                    "code": code,
                    "stderr": err[-2000:],
                    "stderr_lines": len(err.strip().splitlines()),
                    "seconds": round(time.monotonic() - started, 3),
                }
            )
    emit({"done": True})


if __name__ == "__main__":
    main()
