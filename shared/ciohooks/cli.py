"""``ciohooks``: the command line.

    ciohooks serve [--host H] [--port P]        the webhook endpoints on this machine
    ciohooks translate SOURCE [FILE|-] [opts]   the Customer.io calls a payload becomes
    ciohooks sources                            every SOURCE this build offers
    ciohooks send SOURCE FILE --url URL         post a sample, signed where the source signs
    ciohooks dlq list|show|replay|purge         inspect, replay or empty the dead-letter queue
    ciohooks doctor [--stack NAME]              check configuration and connectivity, print what is missing
    ciohooks check-source FILE [SAMPLES...]     check a custom source definition before it deploys
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from . import sources
from .config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ciohooks", description="Provider webhooks into Customer.io semantic events.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the webhook endpoints locally (embedded queue and dry-run sink by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--local-keys", metavar="DIR", help="trust the local-only keys in DIR/local.env (events/keys): for trying signed samples, never for a deployment")

    translate = commands.add_parser("translate", help="print the Customer.io calls a payload becomes, one JSON object per line")
    translate.add_argument("source", help="e.g. email/sendgrid (see `ciohooks sources`)")
    translate.add_argument("file", nargs="?", default="-", help="the payload file, or - for standard input")
    translate.add_argument("--content-type", default=None)
    translate.add_argument("--header", action="append", default=[], metavar="'Name: value'")
    translate.add_argument("--query", action="append", default=[], metavar="key=value")
    translate.add_argument("--method", default="POST")

    commands.add_parser("sources", help="list every SOURCE name")

    send = commands.add_parser("send", help="post a payload file to a webhook URL, signed with --key where the source signs")
    send.add_argument("source", help="e.g. email/sendgrid")
    send.add_argument("file", help="the payload, sent byte for byte")
    send.add_argument("--url", required=True, help="e.g. http://127.0.0.1:3000/sendgrid or the stack's SendGridWebhookUrl")
    send.add_argument("--key", help="a file holding the signing secret (SendGrid: a P-256 private key in PEM whose public half the endpoint trusts)")
    send.add_argument("--content-type", default="application/json")
    send.add_argument("--method", help="default POST (GET for a .query sample)")
    send.add_argument("--header", action="append", default=[], metavar="'Name: value'")

    dlq = commands.add_parser("dlq", help="list, show, replay or purge dead-letter messages (any SQS endpoint)")
    dlq.add_argument("action", choices=["list", "show", "replay", "purge"])
    dlq.add_argument("message_id", nargs="?", help="with show: the message to show; with replay or purge: only this one")
    dlq.add_argument("--queue-url", help="the dead-letter queue (default: CIOHOOKS_DEAD_LETTER_QUEUE_URL)")
    dlq.add_argument("--to", dest="target_url", help="replay target (default: CIOHOOKS_DELIVERY_QUEUE_URL)")
    dlq.add_argument("--endpoint-url", help="an SQS endpoint other than AWS (an emulator)")
    dlq.add_argument("--max", type=int, default=100, help="at most this many messages")
    dlq.add_argument("--yes", action="store_true", help="purge without asking to type the queue name")

    doctor = commands.add_parser("doctor", help="check configuration and connectivity (queues, secrets, Customer.io key); exit 1 when something is missing")
    doctor.add_argument("--stack", help="read queue URLs and settings from this deployed stack's outputs and parameters")
    doctor.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    doctor.add_argument("--endpoint-url", help="send every AWS call here (an emulator such as moto's server)")
    doctor.add_argument("--no-probe", dest="probe", action="store_false", help="do not send the empty batch that checks the Customer.io key")
    doctor.add_argument("--json", dest="as_json", action="store_true", help="one JSON object per check")

    add_check_source_command(commands)

    args = parser.parse_args(argv)
    if args.command == "check-source":
        return _check_source(args)
    if args.command == "serve":
        import os

        from .local import local_keys, serve as run_server

        settings = Settings({**local_keys(args.local_keys), **os.environ}) if args.local_keys else None
        run_server(args.host, args.port, settings)
        return 0
    if args.command == "sources":
        for name in sources.names():
            print(name)
        return 0
    if args.command == "translate":
        return _translate(args)
    if args.command == "send":
        return _send(args)
    if args.command == "doctor":
        from .doctor import DoctorOptions, run_doctor

        return run_doctor(DoctorOptions(stack=args.stack, region=args.region, endpoint_url=args.endpoint_url, probe=args.probe, as_json=args.as_json))
    return _dlq(args)


def add_check_source_command(commands: Any) -> None:
    check = commands.add_parser("check-source", help="validate a custom source definition, compile its JSONata, run samples and check their events against the seed specs")
    check.add_argument("file", help="the definition (YAML or JSON; docs/CUSTOM-SOURCES.md)")
    check.add_argument("samples", nargs="*", help="request bodies (a .query file: a GET postback's query string)")
    check.add_argument("--emit-json", metavar="DIR", help="when valid, write the definition as DIR/<name>.json (the layer build ships it)")


def _check_source(args: argparse.Namespace) -> int:
    from .sources.custom.check import main as check_source

    return check_source(args.file, args.samples, args.emit_json)


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise SystemExit(f"ciohooks: --header takes 'Name: value', got {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _send(args: argparse.Namespace) -> int:
    import requests

    try:
        source = sources.load(args.source)
    except KeyError as error:
        print(f"ciohooks: {error.args[0]}", file=sys.stderr)
        return 2
    from urllib.parse import urlsplit

    from .request import WebhookRequest

    url = urlsplit(args.url)
    payload = open(args.file, "rb").read()
    headers = {"content-type": args.content_type, **_parse_headers(args.header)}
    if args.file.endswith(".query"):  # a GET callback sample (Adjust, AppsFlyer): the file is the query string
        query = "&".join(part for part in (url.query, payload.decode().strip()) if part)
        request = WebhookRequest(args.method or "GET", url.path or "/", b"", {k: v for k, v in headers.items() if k != "content-type"}, query, domain=url.netloc)
    else:
        request = WebhookRequest(args.method or "POST", url.path or "/", payload, headers, url.query, domain=url.netloc)
    if args.key:
        try:
            request = source.sign(request, open(args.key).read().strip())
        except NotImplementedError as error:
            print(f"ciohooks: {error}", file=sys.stderr)
            return 2
    # The signed request decides the final URL: some schemes put the secret in the query string.
    target = f"{url.scheme}://{url.netloc}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    response = requests.request(request.method, target, data=request.body or None, headers=dict(request.headers), timeout=30)
    print(f"{response.status_code} {response.text.strip()}")
    return 0 if response.ok else 1


def _translate(args: argparse.Namespace) -> int:
    from .ingest import UntranslatableError, translate
    from .request import WebhookRequest

    try:
        source = sources.load(args.source)(Settings())
    except KeyError as error:
        print(f"ciohooks: {error.args[0]}", file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    headers = _parse_headers(args.header)
    if args.content_type:
        headers["content-type"] = args.content_type
    headers.setdefault("content-type", "application/json")
    from urllib.parse import urlencode

    query = urlencode([tuple(q.split("=", 1)) if "=" in q else (q, "") for q in args.query])
    request = WebhookRequest(args.method.upper(), f"/{source.name}", body, headers, query)
    try:
        translation = translate(source, request)
    except UntranslatableError as error:
        print(f"ciohooks: not a valid {source.full_name()} payload: {error.reason}", file=sys.stderr)
        return 2
    base = "https://cdp.customer.io"
    for event in translation.events:
        print(json.dumps({"method": "POST", "url": f"{base}/v1/track", "body": event.to_cio()}, ensure_ascii=False))
    for kind, count in sorted(translation.ignored.items()):
        print(f"ignored {count} {kind} event(s)", file=sys.stderr)
    return 0


def _dlq(args: argparse.Namespace) -> int:
    import boto3

    from .envelope import Envelope
    from .queue import SqsQueue

    settings = Settings()
    queue_url = args.queue_url or settings.get("DEAD_LETTER_QUEUE_URL")
    if not queue_url:
        print("ciohooks: give --queue-url or set CIOHOOKS_DEAD_LETTER_QUEUE_URL", file=sys.stderr)
        return 2
    client = boto3.client("sqs", endpoint_url=args.endpoint_url) if args.endpoint_url else None
    dead_letters = SqsQueue(queue_url, client)
    if args.action == "purge":
        return _purge(dead_letters, queue_url, args.message_id, args.yes, args.max)

    # Messages are received with a short visibility timeout: looking is not consuming.
    seen: dict[str, Any] = {}
    while len(seen) < args.max:
        batch = dead_letters.receive(max_messages=10, wait_seconds=0, visibility_timeout=30 if args.action == "replay" else 5)
        fresh = [m for m in batch if m.message_id not in seen]
        if not fresh:
            break
        for message in fresh:
            seen[message.message_id] = message

    selected = [m for m in seen.values() if args.message_id in (None, m.message_id)]
    if args.action == "list":
        for message in selected:
            print(json.dumps({"message_id": message.message_id, "receives": message.receive_count, **_summary(message.body)}))
        return 0
    if args.action == "show":
        if not selected:
            print("ciohooks: no such message (or it is in flight)", file=sys.stderr)
            return 1
        for message in selected:
            print(message.body)
        return 0

    target_url = args.target_url or settings.get("DELIVERY_QUEUE_URL")
    if not target_url:
        print("ciohooks: give --to or set CIOHOOKS_DELIVERY_QUEUE_URL", file=sys.stderr)
        return 2
    target = SqsQueue(target_url, client)
    replayed = failed = 0
    for message in selected:
        try:
            envelope = Envelope.from_json(message.body).for_replay()
        except ValueError:
            print(f"skipped {message.message_id}: not a cio-hooks envelope (use the SQS console's redrive for it)", file=sys.stderr)
            failed += 1
            continue
        try:
            target.put(envelope)
        except Exception as error:  # keep the dead letter: it is deleted only after the send succeeded
            print(f"kept {message.message_id}: {error}", file=sys.stderr)
            failed += 1
            continue
        dead_letters.delete(message.receipt)
        replayed += 1
    print(json.dumps({"replayed": replayed, "kept": failed}))
    return 0 if failed == 0 else 1


def _purge(dead_letters: Any, queue_url: str, message_id: str | None, yes: bool, most: int) -> int:
    """Delete dead letters for good: the whole queue (PurgeQueue), or the one ``message_id``.

    Asks to type the queue's name unless ``yes``; anything else (or no input) purges nothing.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    sqs = dead_letters.client
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    except (BotoCoreError, ClientError) as error:
        print(f"ciohooks: {queue_url} does not answer ({error.__class__.__name__})", file=sys.stderr)
        return 1
    count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    what = f"message {message_id} from {name}" if message_id else f"every message in {name} (about {count}, in flight included)"
    if not yes:
        print(f"This deletes {what} for good. Type the queue name ({name}) to confirm: ", end="", file=sys.stderr, flush=True)
        try:
            answer = input().strip()
        except EOFError:
            answer = ""
        if answer != name:
            print("ciohooks: not confirmed, nothing purged", file=sys.stderr)
            return 1
    if message_id is None:
        try:
            sqs.purge_queue(QueueUrl=queue_url)
        except ClientError as error:
            print(f"ciohooks: SQS refused the purge ({error.response.get('Error', {}).get('Code', 'error')}; one purge per queue per 60 s)", file=sys.stderr)
            return 1
        print(json.dumps({"purged": name, "approximate_messages": count}))
        return 0
    # One message: receive until it shows up (the others stay hidden meanwhile, so each receive
    # brings new ones), delete it, then make the others visible again at once.
    others: dict[str, str] = {}
    found = False
    while not found and len(others) < most:
        batch = [m for m in dead_letters.receive(max_messages=10, wait_seconds=0, visibility_timeout=30) if m.message_id not in others]
        if not batch:
            break
        for message in batch:
            if message.message_id == message_id:
                dead_letters.delete(message.receipt)
                found = True
            else:
                others[message.message_id] = message.receipt
    for receipt in others.values():
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    if found:
        print(json.dumps({"purged": name, "message_id": message_id}))
        return 0
    print(f"ciohooks: no message {message_id} in {name} (or it is in flight)", file=sys.stderr)
    return 1


def _summary(body: str) -> dict[str, Any]:
    from .envelope import Envelope

    try:
        return Envelope.from_json(body).summary()
    except ValueError:
        return {"kind": "unknown", "bytes": len(body)}


def run() -> None:
    """Console entry point: a closed pipe (``ciohooks translate ... | head``) is not an error."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    run()
