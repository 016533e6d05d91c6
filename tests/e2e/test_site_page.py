"""The live site page in a real headless browser (Debian's Chromium through Selenium): during a `--map` run of
4 mailboxes on the sandbox the page shows their rows with item counts that rise and end equal to a plain
exchangelib count per mailbox; a fifth row, a mailbox the server does not have, shows its reason; the page
works offline (no request leaves 127.0.0.1); a screenshot is kept (REBUILD_TEST_ARTIFACTS, else the temp dir).

Skips with a message when selenium, chromium or chromedriver is missing (`.ci/run` installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib.folders import DEEP, FolderCollection

import fixtures
from tests.conftest import REPO, own_sandbox

SERVICE, PASSWORD = "svc-site", "site-pw"
GOOD = [f"user{n}@corp.example" for n in range(1, 5)]
GONE = "nobody@corp.example"  # not on the server: the row must say why it failed
SPEC = {
    "store": {"name": "Site page", "seed": 31},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": 60, "size_min": 300, "size_max": 900, "folders": 2, "seed": 5, "parent": "Inbox"}],
}
#: Slow enough that a browser polling every half second sees the counts between 0 and the end.
FAULTS = {"seed": 3, "rules": [{"kind": "delay", "seconds": 0.25, "operations": ["CreateItem"]}]}


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium; .ci/run installs it)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("chromium or chromedriver not found (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,700"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ews_count(url: str, mailbox: str) -> int:
    """Items in the mailbox's IPM subtree, by plain exchangelib (the lease lives outside it)."""
    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    folders = FolderCollection(account=account, folders=[account.msg_folder_root]).find_folders(depth=DEEP)
    return sum(f.total_count or 0 for f in folders if not isinstance(f, Exception))


def _rows(browser) -> dict[str, dict[str, str]]:
    """The table as the page shows it, read in one script (the page redraws between two element reads)."""
    table = browser.execute_script(
        "return Array.from(document.querySelectorAll('#rows tr'))"
        ".map(tr => [tr.dataset.mailbox, ...Array.from(tr.cells).map(c => c.innerText)])"
    )
    return {row[0]: {"state": row[2], "done": row[3], "failed": row[5]} for row in table}


def test_live_page_follows_a_map_run_and_ends_on_the_server_counts(tmp_path: Path):
    browser = _browser()
    ost = fixtures.cached(SPEC, format="ost")
    users = tmp_path / "users.csv"
    copies = {m: tmp_path / f"{m.split('@')[0]}.ost" for m in [*GOOD, GONE]}  # one file per user, as on a site
    for copy in copies.values():
        shutil.copyfile(ost, copy)
    users.write_text("ost,mailbox\n" + "".join(f"{copies[m]},{m}\n" for m in [*GOOD, GONE]), encoding="utf-8")
    port, state = _free_port(), tmp_path / "state"
    seen: dict[str, set[int]] = {m: set() for m in GOOD}
    try:
        with own_sandbox(tmp_path / "data", {SERVICE: (PASSWORD, True)}, GOOD, faults=FAULTS) as (handle, _):
            env = {**os.environ, "REBUILD_PASSWORD": PASSWORD, "REBUILD_MAX_ATTEMPTS": "1"}
            run = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "--map",
                    str(users),
                    "--server",
                    handle.url,
                    "--username",
                    SERVICE,
                    "--impersonate",
                    "--state",
                    str(state),
                    "--workers",
                    "2",
                    "--batch-items",
                    "5",
                    "--serve",
                    "--port",
                    str(port),
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:  # the page comes up with the run
                    try:
                        browser.get(f"http://127.0.0.1:{port}/")
                        break
                    except Exception:  # noqa: BLE001 - not listening yet
                        time.sleep(0.2)
                deadline = time.monotonic() + 240
                while run.poll() is None and time.monotonic() < deadline:
                    for mailbox, row in _rows(browser).items():
                        if mailbox in seen:
                            seen[mailbox].add(int(row["done"].split("/")[0]))
                    time.sleep(0.4)
                out, err = run.communicate(timeout=60)
            finally:
                if run.poll() is None:
                    run.kill()
            assert run.returncode == 1, out + err  # the missing mailbox failed; the others did not
            counts = {m: _ews_count(handle.url, m) for m in GOOD}
        assert all(n == 60 for n in counts.values()), counts  # the fixture spec: 60 mails each

        # The counts rose while the run went: a value strictly between 0 and the end was shown.
        assert any(0 < v < counts[m] for m, values in seen.items() for v in values), seen

        # The page as the run ended (reports/site.html), opened from disk: offline, no server behind it.
        site = state / "reports" / "site.html"
        browser.get(site.as_uri())
        rows = _rows(browser)
        assert set(rows) == {*GOOD, GONE}
        for mailbox in GOOD:
            assert rows[mailbox]["done"] == f"{counts[mailbox]} / {counts[mailbox]}", rows[mailbox]
            assert rows[mailbox]["state"] == "ok"
        assert rows[GONE]["state"].startswith("fatal") and "NonExistentMailbox" in rows[GONE]["state"], rows[GONE]
        links = browser.execute_script("return Array.from(document.querySelectorAll('a.failures')).map(a => a.href)")
        assert len(links) == 1 and links[0].startswith("file:")  # the stopped mailbox's line in the failures CSV
        listed = (state / "reports" / links[0].rsplit("/", 1)[1]).read_text(encoding="utf-8-sig")
        assert GONE in listed and "NonExistentMailbox" in listed
        artifacts = Path(os.environ.get("REBUILD_TEST_ARTIFACTS") or tempfile.gettempdir())
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "site-page.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        print(f"screenshot: {shot}")
        resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert [r for r in resources if not r.startswith(("file:", "data:"))] == []  # nothing fetched from afar
    finally:
        browser.quit()


def test_status_serve_shows_the_journal_and_serves_only_reports(tmp_path: Path, small_ost: Path):
    """`rebuild status --serve` over plain HTTP (no browser needed): the rows from the journal, equal to what the
    sandbox holds; the page has no outside resource; only report files are served from the state."""
    import json
    import signal
    import urllib.error
    import urllib.request

    from tests.conftest import run_cli, sandbox_items

    state, mailbox = tmp_path / "state", "demo@sandbox.local"
    done = run_cli("--ost", str(small_ost), "--mailbox", mailbox, "--state", str(state))
    assert done.returncode == 0, done.stderr
    held = len(sandbox_items(state / "sandbox", mailbox))
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "status", "--serve", "--port", "0", "--state", str(state)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = serve.stderr.readline()
        assert line.startswith("site: http://127.0.0.1:"), line
        url = line.split()[1]
        data = json.loads(urllib.request.urlopen(url + "status.json", timeout=10).read())
        assert [(r["mailbox"], r["state"], r["done"], r["total"]) for r in data["rows"]] == [
            (mailbox, "ok", held, held)
        ]
        page = urllib.request.urlopen(url, timeout=10).read().decode("utf-8")
        assert "<link" not in page and 'src="' not in page and "//cdn" not in page  # works offline
        report = sorted((state / "reports").glob("run-*.json"))[-1]
        assert urllib.request.urlopen(url + "reports/" + report.name, timeout=10).read() == report.read_bytes()
        for other in (
            "reports/..%2Fjournal.sqlite",
            "reports/../journal.sqlite",
            "journal.sqlite",
            "reports/site.html",
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url + other, timeout=10)
            assert refused.value.code == 404, other
    finally:
        if os.name == "posix":
            serve.send_signal(signal.SIGINT)
            assert serve.wait(timeout=30) == 0
        else:  # pragma: no cover
            serve.kill()
        serve.communicate(timeout=30)
