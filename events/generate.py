"""Generate events/ from events/samples/: Function URL events for the ingest functions and SQS events
for the deliver function, for ``sam local invoke -e`` and for the tests. Never edit the outputs by
hand: change a sample (credited in its folder's README) and run ``make events``.

    events/samples/<family>/<source>/<name>.<ext> a provider's own sample payload, byte for byte
                                                 (how each suffix is sent: ciohooks/samples.py)
    events/<family>/<source>/<name>.json         the Function URL (payload 2.0) event posting it,
                                                 signed with the local-only key in events/keys/
                                                 (an EventBridge source: the EventBridge event itself)
    events/deliver/<source>-<name>.json           the SQS event the deliver function receives

Signed events carry a fixed timestamp and the same ``timeEpoch``, so they verify whenever they are
invoked (ingest checks a signature's age against the time AWS received the request).

    python events/generate.py          write the files
    python events/generate.py --check  exit 1 if any file is missing or differs
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from ciohooks import samples, sources
from ciohooks.config import Settings
from ciohooks.envelope import Envelope
from ciohooks.ingest import UntranslatableError, settle, translate
from ciohooks.samples import RECEIVED, sample_files, sample_request, signing_key

EVENTS = Path(__file__).resolve().parent
SAMPLES = EVENTS / "samples"
KEYS = EVENTS / "keys"


def function_url_event(source: type[sources.Source], sample: Path) -> dict:
    if source.transport == "eventbridge":  # no URL: the event EventBridge hands the function is the sample
        return json.loads(sample.read_bytes())
    return samples.function_url_event(source, sample, KEYS)


def sqs_event(source: type[sources.Source], sample: Path) -> dict | None:
    """The DeliveryQueue message ingest makes of this sample: its events and the signed request
    they came from, credentials stripped (what a replay would translate again)."""
    request, name = sample_request(source, sample), sample.stem
    if (key := signing_key(source, KEYS)) is not None:
        request = source.sign(request, key)
    built = source(Settings({}))
    try:
        translation = translate(built, request)
    except UntranslatableError:
        return None
    stored = request.to_dict(built.secret_headers, built.secret_query_keys)
    settled = settle(translation, source.full_name(), RECEIVED, stored)
    if not settled.events:
        return None
    envelope = Envelope(kind="events", source=source.full_name(), received_at=RECEIVED, events=settled.events, request=stored)
    return {
        "Records": [{
            "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cio-hooks-sample:{source.full_name()}:{name}")),
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": envelope.to_json(),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(RECEIVED.timestamp() * 1000)), "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": str(int(RECEIVED.timestamp() * 1000))},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cio-hooks-delivery",
            "awsRegion": "us-east-1",
        }]
    }


def planned() -> dict[Path, dict]:
    out: dict[Path, dict] = {}
    for full_name in sources.names():
        source = sources.load(full_name)
        folder = samples.sample_folder(source, SAMPLES)  # custom sources: <name>.samples/ beside the definition
        for sample in sample_files(folder):
            out[EVENTS / full_name / f"{sample.stem}.json"] = function_url_event(source, sample)
            if (event := sqs_event(source, sample)) is not None:
                out[EVENTS / "deliver" / f"{source.name}-{sample.stem}.json"] = event
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for path, event in planned().items():
        text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
        if args.check:
            if not path.exists() or json.loads(path.read_text()) != event:
                stale.append(path.relative_to(EVENTS))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        print("stale (run `make events`): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
