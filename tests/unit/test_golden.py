"""Every sample in events/samples becomes exactly the Customer.io calls checked in beside it.

The golden files (``<sample>.golden.jsonl``, written by ``make golden``: events/golden.py) pin the
whole output, messageIds included: a change of mapping or of id recipe fails here until the files
are rewritten, and the commit's diff shows what the change did.
"""

from __future__ import annotations

import pytest

from ciohooks import sources
from events.generate import SAMPLES, sample_files
from events.golden import SUFFIX, golden_path, golden_text, orphans, planned

CASES = [(full_name, sample) for full_name in sources.names() for sample in sample_files(SAMPLES / full_name)]


@pytest.mark.parametrize(("full_name", "sample"), CASES, ids=[str(s.relative_to(SAMPLES)) for _, s in CASES])
def test_sample_becomes_exactly_its_golden_calls(full_name, sample):
    golden = golden_path(sample)
    assert golden.exists(), f"no golden file for {sample.relative_to(SAMPLES)}: run `make golden`"
    assert golden_text(sources.load(full_name), sample) == golden.read_text(), "output changed: run `make golden` if intended, and say why in the commit"


def test_every_golden_file_has_its_sample():
    assert orphans(set(planned())) == []


def test_golden_files_are_not_taken_for_samples():
    assert all(not p.name.endswith(SUFFIX) for _, p in CASES)


@pytest.mark.parametrize("sample", ["email/sendgrid/batch.json", "email/mailjet/grouped.json", "email/postmark/open.json"])
def test_golden_calls_are_what_ciohooks_translate_prints(sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ciohooks.cli import main

    path = SAMPLES / sample
    assert main(["translate", sample.rsplit("/", 1)[0], str(path)]) == 0
    calls = [line for line in golden_path(path).read_text().splitlines(keepends=True) if not line.startswith('{"not_sent"')]
    assert capsys.readouterr().out == "".join(calls)


def test_ciohooks_translate_prints_what_the_golden_file_holds(capsys):
    # One format: the calls on stdout, the golden file's not_sent line on stderr.
    from ciohooks.cli import main

    sample = SAMPLES / "email" / "sendgrid" / "batch.json"
    assert main(["translate", "email/sendgrid", str(sample)]) == 0
    printed = capsys.readouterr()
    assert printed.err == '{"not_sent": {"ignored": {"deferred": 1, "dropped": 1, "group_resubscribe": 1, "processed": 1}}}\n'
    assert printed.out + printed.err == golden_path(sample).read_text()
