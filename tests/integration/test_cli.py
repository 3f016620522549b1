"""Every command of the CLI, given bad input, answers with one line that says what to do: never a
traceback. Exit status 2 for a usage error (a bad option, a file that is not there), 1 for a
failure (nothing listens, AWS cannot be reached).

Run as a user runs it: the console entry point in a subprocess (``python -m ciohooks.cli``), with
the session's dummy AWS credentials and every AWS endpoint on a closed local port.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, free_port

pytestmark = pytest.mark.integration

SAMPLE = "events/samples/email/sendgrid/batch.json"
CLOSED = free_port()  # nothing listens here (the port was free a moment ago)
NOWHERE = f"http://127.0.0.1:{CLOSED}"
OFFLINE = ["--endpoint-url", NOWHERE, "--region", "us-east-1"]


def ciohooks(*args: str, stdin: int | None = subprocess.DEVNULL, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "AWS_ENDPOINT_URL": NOWHERE, **env}
    environment.pop("CIOHOOKS_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ciohooks.cli", *args], cwd=REPO_ROOT, stdin=stdin, capture_output=True, text=True, env=environment, timeout=120)


# (arguments, exit status, what the one line says)
CASES = [
    ([], 2, "required: COMMAND"),
    (["bogus"], 2, "invalid choice: 'bogus'"),
    (["serve", "--port", "abc"], 2, "invalid int value: 'abc'"),
    (["serve", "--local-keys", "/nowhere"], 2, "cannot read /nowhere/local.env"),
    (["sources", "extra"], 2, "unrecognized arguments: extra"),
    (["translate"], 2, "required: source"),
    (["translate", "nope/x", SAMPLE], 2, "no source 'nope/x': one of email/brevo"),
    (["translate", "email/sendgrid", "/nowhere.json"], 2, "cannot read /nowhere.json: No such file or directory"),
    (["translate", "email/sendgrid", "events/samples"], 2, "events/samples is a folder"),
    (["translate", "email/sendgrid", "README.md"], 1, "not a valid email/sendgrid payload: body is not JSON"),
    (["translate", "email/sendgrid", SAMPLE, "--header", "no colon"], 2, "--header takes 'Name: value'"),
    (["send", "email/sendgrid", SAMPLE, "--url", f"http://127.0.0.1:{CLOSED}/sendgrid"], 1, f"nothing listens on 127.0.0.1:{CLOSED}: is `make run` running?"),
    (["send", "email/sendgrid", SAMPLE, "--url", "ftp://example.com/x"], 2, "--url must be an http(s) URL"),
    (["send", "email/sendgrid", SAMPLE, "--key", "events/keys/local.env", "--url", NOWHERE + "/sendgrid"], 2, "is not one email/sendgrid signs with"),
    (["send", "email/sendgrid", SAMPLE, "--key", "events/keys"], 2, "--key events/keys is a folder"),
    (["send", "email/sendgrid", "/nowhere.json"], 2, "cannot read /nowhere.json"),
    (["send", "email/sendgrid", SAMPLE, "--timeout", "soon"], 2, "invalid float value: 'soon'"),
    (["invoke", "NoSuchFunction", "events/email/sendgrid/batch.json"], 2, "no function NoSuchFunction in template.yaml: one of DeliverFunction"),
    (["invoke", "EmailIngestFunction", "/nowhere.json"], 2, "cannot read the event /nowhere.json"),
    (["invoke", "EmailIngestFunction", "README.md"], 2, "README.md is not JSON"),
    (["invoke", "EmailIngestFunction", "events/email/sendgrid/batch.json", "--env", "NOVALUE"], 2, "--env takes NAME=value"),
    (["invoke", "EmailIngestFunction", "events/email/sendgrid/batch.json", "--project", "/tmp"], 2, "cannot read /tmp/template.yaml"),
    (["sam-env-vars"], 2, "required: --stack"),
    (["sam-env-vars", "--stack", "dev", "--region", "us-east-1"], 1, f"cannot reach {NOWHERE}/"),
    (["dlq", "list"], 2, "which dead-letter queue? give --stack NAME, --queue-url"),
    (["dlq", "frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["dlq", "list", "--max", "0", "--queue-url", NOWHERE + "/q", *OFFLINE], 2, "--max takes a whole number of at least 1"),
    (["dlq", "show", "--queue-url", NOWHERE + "/q", *OFFLINE], 2, "show takes the MESSAGE_ID"),
    (["dlq", "list", "--queue-url", NOWHERE + "/q", *OFFLINE], 1, f"cannot reach {NOWHERE}/"),
    (["dlq", "replay", "--queue-url", NOWHERE + "/q", *OFFLINE], 2, "replay to which queue?"),
    (["dlq", "replay", "--stack", "dev", *OFFLINE], 1, f"cannot reach {NOWHERE}/"),
    (["doctor", "--json", "--bogus"], 2, "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("args,status,says", CASES, ids=[" ".join(a) or "(nothing)" for a, _, _ in CASES])
def test_bad_input_gets_one_line_and_no_traceback(args: list[str], status: int, says: str) -> None:
    run = ciohooks(*args)
    assert "Traceback" not in run.stderr + run.stdout
    assert run.returncode == status, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("ciohooks") and says in line, line


def test_serve_on_a_busy_port_says_which_and_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = ciohooks("serve", "--port", str(port))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"ciohooks: 127.0.0.1:{port} is in use: stop what listens there, or give another port (make run PORT={port + 1})"


def test_translate_refuses_to_wait_on_a_terminal() -> None:
    controller, terminal = pty.openpty()
    try:
        run = ciohooks("translate", "email/sendgrid", stdin=terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    assert run.returncode == 2
    assert run.stderr.strip() == "ciohooks: give a payload FILE, or pipe one in (ciohooks translate SOURCE - < payload.json)"


def test_translate_reads_the_samples_send_reads() -> None:
    """A .query sample (a GET callback) and a .form sample translate as they are sent."""
    adjust = ciohooks("translate", "mobile/adjust", "events/samples/mobile/adjust/install.query")
    assert adjust.returncode == 0, adjust.stderr
    assert '"event": "Application Installed"' in adjust.stdout
    forms = sorted(Path(REPO_ROOT, "events/samples/email/mandrill").glob("*.form"))
    mandrill = ciohooks("translate", "email/mandrill", str(forms[0].relative_to(REPO_ROOT)))
    assert mandrill.returncode == 0 and mandrill.stdout.startswith('{"method": "POST"'), mandrill.stderr


def test_an_unexpected_error_is_one_line_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug is reported in one line with what to do; CIOHOOKS_DEBUG=1 shows the traceback."""
    from ciohooks import cli

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(cli.COMMANDS, "sources", broken)
    monkeypatch.delenv("CIOHOOKS_DEBUG", raising=False)
    assert cli.main(["sources"]) == 1
    assert capsys.readouterr().err == "ciohooks: unexpected ZeroDivisionError: division by zero (CIOHOOKS_DEBUG=1 prints the traceback; please report it)\n"
    monkeypatch.setenv("CIOHOOKS_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["sources"])


def test_every_option_says_what_it_does_and_its_default() -> None:
    from ciohooks.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"ciohooks {name} {'/'.join(action.option_strings) or action.dest} has no help"
            if action.option_strings and action.default not in (None, False, [], True) and action.nargs != 0:
                assert "default" in sub.formatter_class("x")._get_help_string(action), f"ciohooks {name} {action.option_strings[0]}: default not said"


def test_local_env_is_sourceable_by_a_shell_with_the_values_serve_reads() -> None:
    from ciohooks.samples import local_keys

    shell = subprocess.run(["bash", "-c", "set -eu -a; . events/keys/local.env; set +a; env -0"], cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": os.defpath})
    assert shell.returncode == 0, shell.stderr
    sourced = dict(item.split("=", 1) for item in shell.stdout.split("\0") if item.startswith("CIOHOOKS_"))
    assert sourced == local_keys(REPO_ROOT / "events" / "keys")
