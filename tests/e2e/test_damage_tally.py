"""Hundreds of damaged files through `inspect`, `export` and the main job: never a traceback, never a hang,
exit codes as documented, nothing created on the server for a file that does not open.

Variants of the small fixture OST and of a real sample (../shared/samples/Outlook.pst, when present): bit
flips in the header, in the B-tree root pages and anywhere, truncations, zero length, random bytes, a FIFO, a
directory. Two driver processes run the commands in-process (tests/e2e/damage_driver.py); each command has
its own deadline, and a driver that misses one is killed and the command recorded as a hang. The oracle for
"must be refused" is libpff itself (pypff's open and root folder, called here) and the kind of variant; the
tally is printed with the test's output.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import fixtures
from tests.conftest import REPO, SAMPLES

VARIANTS = 206
STEP_TIMEOUT = 30.0  # seconds for one command on one variant: a miss is a hang
DRIVERS = 2


def _pages(data: bytes) -> tuple[int, int]:
    """File offsets of the node and block B-tree root pages (from the header's ROOT; ANSI or Unicode)."""
    version = int.from_bytes(data[10:12], "little")
    if version in (14, 15):
        return (int.from_bytes(data[0xBC:0xC0], "little"), int.from_bytes(data[0xC4:0xC8], "little"))
    return (int.from_bytes(data[0xE0:0xE8], "little"), int.from_bytes(data[0xF0:0xF8], "little"))


def make_variants(base: Path, count: int, out: Path, rng: random.Random) -> list[tuple[str, Path]]:
    """count damaged copies of base: (kind, path)."""
    data = base.read_bytes()
    pages = [p for p in _pages(data) if 0 < p < len(data) - 512]
    variants: list[tuple[str, Path]] = []

    def add(kind: str, content: bytes) -> None:
        path = out / f"{base.stem[:12]}-{len(variants):03d}-{kind}{base.suffix}"
        path.write_bytes(content)
        variants.append((kind, path))

    add("zero-length", b"")
    add("random-bytes", rng.randbytes(4096))
    add("random-bytes", rng.randbytes(len(data)))
    add("signature-then-noise", b"!BDN" + rng.randbytes(len(data) - 4))
    for size in (100, 0x200, 0x1000):
        add("truncated", data[:size])
    while len(variants) < count:
        roll = rng.random()
        if roll < 0.15:
            add("truncated", data[: rng.randrange(0x200, len(data))])
            continue
        damaged = bytearray(data)
        if roll < 0.40:
            kind, offset = "bitflip-header", rng.randrange(0x220)
        elif roll < 0.70 and pages:
            kind, offset = "bitflip-btree-root", rng.choice(pages) + rng.randrange(512)
        else:
            kind, offset = "bitflip-anywhere", rng.randrange(len(data))
        damaged[offset] ^= 1 << rng.randrange(8)
        add(kind, bytes(damaged))
    return variants


def libpff_refuses(path: Path) -> bool:
    """The independent oracle: does libpff itself fail to open the file and its root folder?"""
    import pypff

    if not path.is_file():
        return True
    handle = pypff.file()
    try:
        handle.open(str(path))
        handle.root_folder  # noqa: B018
        return False
    except Exception:  # noqa: BLE001 - any refusal
        return True
    finally:
        try:
            handle.close()
        except Exception:  # noqa: BLE001
            pass


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def drive(jobs: list[tuple[int, str]], out: Path, state: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    """Run jobs through driver processes, restarting after a hang; (outcomes, hangs)."""
    outcomes: list[dict] = []
    hangs: list[tuple[int, str]] = []
    pending = list(jobs)
    env = {**os.environ, "REBUILD_CONVERT_WORKERS": "1", "PYTHONPATH": str(REPO)}
    while pending:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.damage_driver"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps({"jobs": pending, "out": str(out), "state": str(state)}))
        process.stdin.close()
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
        current = None
        finished = set()
        while True:
            try:
                record = json.loads(lines.get(timeout=STEP_TIMEOUT))
            except queue.Empty:
                process.kill()
                process.wait()
                if current is None:
                    raise AssertionError("the damage driver gave no sign of life") from None
                hangs.append(tuple(current))
                finished.add(current[0])
                break
            if record.get("done"):
                process.wait()
                finished = {index for index, _ in pending}
                break
            if "start" in record:
                current = record["start"]
                continue
            outcomes.append(record)
            if record["command"] == "run-for-real" or (record["command"] == "run" and record["code"] != 2):
                finished.add(record["index"])  # the variant's last command
        pending = [job for job in pending if job[0] not in finished]
    return outcomes, hangs


def test_damaged_variants_never_crash_hang_or_touch_the_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bases = [fixtures.cached("small", format="ost")]
    sample = SAMPLES / "Outlook.pst"
    if sample.is_file():
        bases.append(sample)
    tally_variants(tmp_path, capsys, bases, VARIANTS, seed=20261130)


@pytest.mark.slow
def test_many_more_damaged_variants_of_every_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The same trial, 1,200 variants over the fixture (OST and PST) and every real sample."""
    bases = [fixtures.cached("small", format="ost"), fixtures.cached("small", format="pst")]
    if SAMPLES.is_dir():
        bases += sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".ost", ".pst"))
    tally_variants(tmp_path, capsys, bases, 1200, seed=7)


def tally_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bases: list[Path], count: int, seed: int
) -> None:
    rng = random.Random(seed)
    files = tmp_path / "variants"
    files.mkdir()
    variants: list[tuple[str, Path]] = []
    for number, base in enumerate(bases):
        share = (count - 2) // len(bases) + (1 if number < (count - 2) % len(bases) else 0)
        variants += make_variants(base, share, files, rng)
    directory = files / "a-directory.ost"
    directory.mkdir()
    variants.append(("directory", directory))
    if hasattr(os, "mkfifo"):
        fifo = files / "a-fifo.ost"
        os.mkfifo(fifo)
        variants.append(("fifo", fifo))
    else:
        variants.append(("random-bytes", files / "pad.ost"))
        variants[-1][1].write_bytes(rng.randbytes(100))
    assert len(variants) >= 200

    started = time.monotonic()
    chunks = [[(i, str(p)) for i, (_, p) in enumerate(variants) if i % DRIVERS == d] for d in range(DRIVERS)]
    results: list[tuple[list[dict], list[tuple[int, str]]]] = [([], [])] * DRIVERS
    threads = []
    for d, chunk in enumerate(chunks):

        def work(d: int = d, chunk: list = chunk) -> None:
            results[d] = drive(chunk, tmp_path / f"out{d}", tmp_path / f"state{d}")

        threads.append(threading.Thread(target=work))
        threads[-1].start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    outcomes = [o for r in results for o in r[0]]
    hangs = [h for r in results for h in r[1]]

    by_variant: dict[int, dict[str, dict]] = {}
    for outcome in outcomes:
        by_variant.setdefault(outcome["index"], {})[outcome["command"]] = outcome
    tally: Counter[tuple[str, str]] = Counter()
    problems = [f"hang: variant {i} ({variants[i][0]}) in {cmd}" for i, cmd in hangs]
    for index, (kind, path) in enumerate(variants):
        runs = by_variant.get(index, {})
        codes = {cmd: runs[cmd]["code"] for cmd in ("inspect", "export", "run") if cmd in runs}
        tally[(kind, " ".join(f"{cmd}={code}" for cmd, code in codes.items()))] += 1
        for cmd, outcome in runs.items():
            if outcome["code"] not in (0, 1, 2) or "Traceback" in outcome["stderr"]:
                problems.append(f"{cmd} on variant {index} ({kind}): exit {outcome['code']}: {outcome['stderr']}")
            elif outcome["code"] == 2 and outcome["stderr_lines"] != 1:
                problems.append(f"{cmd} on variant {index} ({kind}): exit 2 in {outcome['stderr_lines']} lines")
        if len(codes) == 3 and len({code == 2 for code in codes.values()}) != 1:
            problems.append(f"variant {index} ({kind}): commands disagree on whether it opens: {codes}")
        must_refuse = kind in ("zero-length", "random-bytes", "directory", "fifo", "signature-then-noise") or (
            kind != "fifo" and libpff_refuses(path)
        )
        if must_refuse and codes and set(codes.values()) != {2}:
            problems.append(f"variant {index} ({kind}) does not open, yet exit codes {codes}")
        if codes.get("run") == 2 and runs.get("run-for-real", {}).get("code") != 2:
            problems.append(f"variant {index} ({kind}): the real run did not refuse it: {runs.get('run-for-real')}")
    for d in range(DRIVERS):
        assert not (tmp_path / f"state{d}" / "sandbox").exists(), "a refused file created something on the server"

    refused = sum(1 for runs in by_variant.values() if runs.get("run", {}).get("code") == 2)
    with capsys.disabled():
        print(
            f"\ndamage tally: {len(variants)} variants of {', '.join(b.name for b in bases)} in {elapsed:.0f} s; "
            f"{refused} refused with exit 2 (nothing created on the server), {len(hangs)} hangs, "
            f"{len(problems)} problems"
        )
        for (kind, codes), count in sorted(tally.items()):
            print(f"  {count:4d}  {kind:<22} {codes}")
    assert not problems, "\n".join(problems[:20])
