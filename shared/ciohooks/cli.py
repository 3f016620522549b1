"""``ciohooks``: the command line.

    ciohooks serve [--host H] [--port P]        the webhook endpoints on this machine (+ /_inspect)
    ciohooks translate SOURCE [FILE|-] [opts]   the Customer.io calls a payload becomes
    ciohooks sources                            every SOURCE this build offers
    ciohooks send SOURCE FILE [--url URL]       post a sample, signed where the source signs
    ciohooks invoke FUNCTION EVENT              one function of template.yaml in the Lambda runtime emulator
    ciohooks sam-env-vars --stack NAME          an --env-vars file for `sam local invoke` (Docker)
    ciohooks dlq list|show|replay|purge         inspect, replay or empty the dead-letter queue
    ciohooks doctor [--stack NAME]              check configuration and connectivity, print what is missing
    ciohooks check-source FILE [SAMPLES...]     check a custom source definition before it deploys

A command never shows a traceback: it fails with one line that says what to do, exit status 2 for
a usage error (a bad option, a missing file) and 1 for a failure (nothing listens, AWS refused).
``CIOHOOKS_DEBUG=1`` prints the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from . import sources
from .config import ConfigurationError, Settings

LOCAL_KEYS = "events/keys"


class Failure(Exception):
    """The command failed: one line for the user, exit status 1."""

    exit_status = 1


class UsageError(Failure):
    """The command was given something it cannot use: exit status 2."""

    exit_status = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and the subcommands inherit it)."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or not action.option_strings or default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> Parser:
    parser = Parser(prog="ciohooks", description="Provider webhooks into Customer.io semantic events.", formatter_class=HelpWithDefaults)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(name: str, help: str) -> Parser:
        return commands.add_parser(name, help=help, description=help, formatter_class=HelpWithDefaults)

    serve = command("serve", "serve the webhook endpoints locally (embedded queue and dry-run sink by default)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (make run PORT=...)")
    serve.add_argument("--local-keys", metavar="DIR", help="trust the local-only keys in DIR/local.env (events/keys): for trying signed samples, never for a deployment; default: none")
    serve.add_argument("--inspect", action=argparse.BooleanOptionalAction, default=None,
                       help="serve the inspector page at /_inspect (default: on when --host is a loopback address, off otherwise)")

    translate = command("translate", "print the Customer.io calls a payload becomes, one JSON object per line")
    translate.add_argument("source", help="e.g. email/sendgrid (see `ciohooks sources`)")
    translate.add_argument("file", nargs="?", default="-", help="the payload (a sample of events/samples: .json, .form, .txt, .query, with its .meta.json), or - to read a pipe (default: -)")
    translate.add_argument("--content-type", help="the request's Content-Type (default: from the file's suffix, else application/json)")
    translate.add_argument("--header", action="append", default=[], metavar="'Name: value'", help="a request header (repeatable)")
    translate.add_argument("--query", action="append", default=[], metavar="key=value", help="a query parameter (repeatable)")
    translate.add_argument("--method", help="the HTTP method (default: GET for a .query sample, else POST)")

    command("sources", "list every SOURCE name")

    send = command("send", "post a payload file to a webhook URL, signed where the source signs")
    send.add_argument("source", help="e.g. email/sendgrid")
    send.add_argument("file", help="the payload, sent byte for byte (a .query sample is sent as the query string of a GET)")
    send.add_argument("--url", help="e.g. the stack's SendGridWebhookUrl (default: http://127.0.0.1:3000/<source>, `make run`)")
    send.add_argument("--key", metavar="FILE", help="a file holding the signing secret (SendGrid: a P-256 private key in PEM whose public half the endpoint trusts); default: the local-only key of --local-keys for a loopback URL")
    send.add_argument("--local-keys", metavar="DIR", default=LOCAL_KEYS, help="where the local-only keys are")
    send.add_argument("--content-type", help="the request's Content-Type (default: from the file's suffix)")
    send.add_argument("--method", help="the HTTP method (default: GET for a .query sample, else POST)")
    send.add_argument("--header", action="append", default=[], metavar="'Name: value'", help="a request header (repeatable)")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")

    invoke = command("invoke", "run one function of template.yaml with an event, in the Lambda runtime emulator (no Docker, no AWS)")
    invoke.add_argument("function", metavar="FUNCTION", help="the function's logical id, e.g. EmailIngestFunction or DeliverFunction")
    invoke.add_argument("event", metavar="EVENT", help="a Lambda event file, e.g. events/email/sendgrid/batch.json or events/deliver/sendgrid-batch.json")
    invoke.add_argument("--project", metavar="DIR", default=".", help="the folder holding template.yaml")
    invoke.add_argument("--local-keys", metavar="DIR", default=LOCAL_KEYS, help="the local-only keys the function trusts (relative to --project)")
    invoke.add_argument("--no-local-keys", dest="local_keys", action="store_const", const=None, help="trust no local key")
    invoke.add_argument("--env", action="append", default=[], metavar="NAME=value", help="an environment variable for the function (repeatable; wins over the template)")
    invoke.add_argument("--layer", action="store_true", help="run with only the deployed layer on the path (requirements.txt + shared/ciohooks, installed once into .ciohooks-cache/), as on Lambda; default: the project's .venv")

    sam_env = command("sam-env-vars", "print an --env-vars file for `sam local invoke` (Docker) pointing the functions at a deployed stack's queues and secrets")
    sam_env.add_argument("--stack", required=True, help="the deployed stack (a development stack: the invoke queues real messages)")
    sam_env.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    sam_env.add_argument("--project", metavar="DIR", default=".", help="the folder holding template.yaml")

    dlq = command("dlq", "list, show, replay or purge dead-letter messages (any SQS endpoint)")
    dlq.add_argument("action", choices=["list", "show", "replay", "purge"], help="list: one summary per message; show: the message; replay: back to the delivery queue, translated again; purge: delete for good")
    dlq.add_argument("message_id", nargs="?", help="with show: the message to show; with replay or purge: only this one")
    dlq.add_argument("--stack", help="read both queue URLs from this deployed stack's outputs")
    dlq.add_argument("--region", help="AWS region (default: your AWS configuration)")
    dlq.add_argument("--queue-url", help="the dead-letter queue (default: --stack's, else CIOHOOKS_DEAD_LETTER_QUEUE_URL)")
    dlq.add_argument("--to", dest="target_url", help="replay target (default: --stack's delivery queue, else CIOHOOKS_DELIVERY_QUEUE_URL)")
    dlq.add_argument("--endpoint-url", help="an SQS endpoint other than AWS (an emulator)")
    dlq.add_argument("--max", type=int, default=None, help="at most this many messages (default: all of them)")
    dlq.add_argument("--yes", action="store_true", help="purge without asking to type the queue name")

    doctor = command("doctor", "check configuration and connectivity (queues, secrets, Customer.io key); exit 1 when something is missing")
    doctor.add_argument("--stack", help="read queue URLs and settings from this deployed stack's outputs and parameters")
    doctor.add_argument("--region", help="AWS region of the stack (default: your AWS configuration)")
    doctor.add_argument("--endpoint-url", help="send every AWS call here (an emulator such as moto's server)")
    doctor.add_argument("--no-probe", dest="probe", action="store_false", help="do not send the empty batch that checks the Customer.io key")
    doctor.add_argument("--json", dest="as_json", action="store_true", help="one JSON object per check")

    add_check_source_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except Failure as failure:
        print(f"ciohooks: {failure}", file=sys.stderr)
        return failure.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:  # noqa: BLE001 - the promise: no traceback, one line that says what to do
        if (explained := explain(error)) is not None:
            print(f"ciohooks: {explained}", file=sys.stderr)
            return explained.exit_status
        if os.environ.get("CIOHOOKS_DEBUG"):
            raise
        from .redact import redact

        print(f"ciohooks: unexpected {error.__class__.__name__}: {redact(str(error), 300)} (CIOHOOKS_DEBUG=1 prints the traceback; please report it)", file=sys.stderr)
        return 1


def explain(error: Exception) -> Failure | None:
    """The one line for a failure of a library underneath (AWS, the network, configuration)."""
    if isinstance(error, ConfigurationError):
        return UsageError(f"{error}: set it (see README's configuration reference)")
    try:
        from botocore import exceptions as aws
    except ImportError:  # pragma: no cover - boto3 is a runtime dependency
        return None
    if isinstance(error, aws.NoCredentialsError):
        return Failure("no AWS credentials: configure them (aws configure, AWS_PROFILE) or give --endpoint-url for an emulator")
    if isinstance(error, aws.NoRegionError):
        return UsageError("no AWS region: give --region or set AWS_REGION")
    if isinstance(error, aws.EndpointConnectionError):
        return Failure(f"cannot reach {error.kwargs.get('endpoint_url')}: check --endpoint-url / --region and your network")
    if isinstance(error, aws.ClientError):
        code = error.response.get("Error", {}).get("Code", "error")
        operation = getattr(error, "operation_name", "the call")
        if "NonExistentQueue" in code or code == "QueueDoesNotExist":
            return Failure(f"no such queue ({code}): check --queue-url / --to, or give --stack")
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken"):
            return Failure(f"AWS refused {operation} ({code}): check your credentials and their permissions")
        return Failure(f"AWS answered {code} to {operation}: {error.response.get('Error', {}).get('Message', '')[:200]}")
    if isinstance(error, aws.BotoCoreError):
        return Failure(f"AWS call failed ({error.__class__.__name__}): {str(error)[:200]}")
    return None


# ---- serve --------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import errno

    from .local import serve

    settings = Settings({**_read_local_keys(args.local_keys), **os.environ}) if args.local_keys else None
    try:
        serve(args.host, args.port, settings, inspect=args.inspect, keys=args.local_keys)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise Failure(f"{args.host}:{args.port} is in use: stop what listens there, or give another port (make run PORT={args.port + 1})") from None
        if error.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise UsageError(f"cannot listen on {args.host}:{args.port} ({error.strerror}): give another --host / --port") from None
        raise
    return 0


def _read_local_keys(folder: str) -> dict[str, str]:
    from .samples import local_keys

    try:
        return local_keys(folder)
    except OSError as error:
        raise UsageError(f"cannot read {folder}/local.env ({error.strerror}): give the folder of local.env (events/keys)") from None
    except ValueError as error:
        raise UsageError(f"{folder}/local.env cannot be read as NAME=value lines ({error})") from None


def _sources(args: argparse.Namespace) -> int:
    for name in sources.names():
        print(name)
    return 0


def _load_source(name: str) -> type[sources.Source]:
    try:
        return sources.load(name)
    except KeyError:
        raise UsageError(f"no source {name!r}: one of {', '.join(sources.names())}") from None


# ---- requests from files ------------------------------------------------------------------------


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
        if not sep or not name.strip():
            raise UsageError(f"--header takes 'Name: value', got {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _request_from_file(source: type[sources.Source], file: str, args: argparse.Namespace, **where: Any) -> Any:
    """The request ``file`` stands for (as the samples are sent), with the command's overrides."""
    import dataclasses

    from .request import WebhookRequest
    from .samples import SAMPLE_SUFFIXES, sample_request

    path = Path(file)
    try:
        if path.suffix in SAMPLE_SUFFIXES:
            request = sample_request(source, path, **where)
        else:  # any other file: its bytes as the body
            request = WebhookRequest("POST", f"/{source.name}", path.read_bytes(), {"content-type": "application/json"}, received_at=where.get("received_at", datetime.now(UTC)))
    except IsADirectoryError:
        raise UsageError(f"{file} is a folder: give one payload file (ls {file})") from None
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot use {file}: {error}") from None
    headers = {**request.headers, **_parse_headers(args.header)}
    if args.content_type:
        headers["content-type"] = args.content_type
    return dataclasses.replace(request, method=(args.method or request.method).upper(), headers=headers)


# ---- translate ----------------------------------------------------------------------------------


def _translate(args: argparse.Namespace) -> int:
    import dataclasses
    from urllib.parse import urlencode

    from .ingest import UntranslatableError, translate
    from .request import WebhookRequest
    from .samples import call_line, not_sent_line

    source_class = _load_source(args.source)
    if args.file == "-":
        if sys.stdin.isatty():
            raise UsageError("give a payload FILE, or pipe one in (ciohooks translate SOURCE - < payload.json)")
        headers = {"content-type": "application/json", **_parse_headers(args.header)}
        if args.content_type:
            headers["content-type"] = args.content_type
        request = WebhookRequest((args.method or "POST").upper(), f"/{source_class.name}", sys.stdin.buffer.read(), headers)
    else:
        request = _request_from_file(source_class, args.file, args)
    if args.query:
        extra = urlencode([tuple(q.split("=", 1)) if "=" in q else (q, "") for q in args.query])
        request = dataclasses.replace(request, raw_query="&".join(p for p in (request.raw_query, extra) if p))
    source = source_class(Settings())
    try:
        translation = translate(source, request)
    except UntranslatableError as error:
        raise Failure(f"not a valid {source.full_name()} payload: {error.reason}") from None
    for event in translation.events:
        print(call_line(event))
    if (not_sent := not_sent_line(translation)) is not None:
        print(not_sent, file=sys.stderr)  # the golden files' line; stdout stays one call per line
    return 0


# ---- send ---------------------------------------------------------------------------------------


def _send(args: argparse.Namespace) -> int:
    import requests

    source = _load_source(args.source)
    url = urlsplit(args.url or f"http://127.0.0.1:3000/{source.name.replace('_', '-')}")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise UsageError(f"--url must be an http(s) URL, got {args.url!r}")
    request = _request_from_file(source, args.file, args, received_at=datetime.now(UTC), domain=url.netloc, path=url.path or "/")
    if url.query:
        request = _with_query(request, url.query)
    key = _signing_key(source, args, url.hostname or "")
    if key is not None:
        request = sign(source, request, key, args.key or f"{args.local_keys} ({source.name})")
    # The signed request decides the final URL: some schemes put the secret in the query string.
    target = f"{url.scheme}://{url.netloc}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    try:
        response = requests.request(request.method, target, data=request.body or None, headers=dict(request.headers), timeout=args.timeout)
    except requests.exceptions.ConnectionError:
        hint = ": is `make run` running?" if _is_loopback(url.hostname or "") else ": check the URL and your network"
        raise Failure(f"nothing listens on {url.netloc}{hint}") from None
    except requests.exceptions.Timeout:
        raise Failure(f"{url.netloc} did not answer within {args.timeout:g} s (--timeout)") from None
    print(f"{response.status_code} {response.text.strip()}")
    return 0 if response.ok else 1


def _with_query(request: Any, query: str) -> Any:
    import dataclasses

    return dataclasses.replace(request, raw_query="&".join(p for p in (query, request.raw_query) if p))


def _signing_key(source: type[sources.Source], args: argparse.Namespace, host: str) -> str | None:
    if args.key:
        try:
            return Path(args.key).read_text().strip()
        except IsADirectoryError:
            raise UsageError(f"--key {args.key} is a folder: give the file holding the key") from None
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read --key {args.key}: {getattr(error, 'strerror', None) or error}") from None
    if not _is_loopback(host) or not Path(args.local_keys, "local.env").exists():
        return None
    from .samples import signing_key

    return signing_key(source, args.local_keys)


def sign(source: type[sources.Source], request: Any, key: str, where: str) -> Any:
    """``source.sign``, with a key that does not fit said in one line."""
    try:
        return source.sign(request, key)
    except NotImplementedError:
        return request  # a source that does not sign (a token in a header or the URL is checked as sent)
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(f"the key in {where} is not one {source.full_name()} signs with ({str(error)[:160]})") from None


def _is_loopback(host: str) -> bool:
    from .inspector import is_loopback

    return is_loopback(host or "localhost")


# ---- invoke, sam-env-vars -----------------------------------------------------------------------


def _invoke(args: argparse.Namespace) -> int:
    try:
        from .invoke import InvokeError, InvokeOptions, invoke
        from .lambda_runtime import RieUnavailable
    except ImportError as error:
        raise Failure(f"invoke needs the development dependencies ({error.name} is missing): run `make setup`") from None
    env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--env takes NAME=value, got {item!r}")
        env[name] = value
    project = Path(args.project)
    options = InvokeOptions(args.function, Path(args.event), project, Path(args.local_keys) if args.local_keys else None, env, layer=args.layer)
    try:
        return invoke(options)
    except InvokeError as error:
        raise UsageError(str(error)) from None
    except RieUnavailable as error:
        raise Failure(f"the Lambda runtime emulator is not available: {error}") from None
    except ImportError as error:
        raise Failure(f"invoke needs the development dependencies ({error.name} is missing): run `make setup`") from None
    except subprocess.CalledProcessError as error:
        said = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise Failure(f"pip could not build the layer ({said[-1] if said else 'no output'}): check your network, or leave out --layer") from None


def _sam_env_vars(args: argparse.Namespace) -> int:
    """What ``sam local invoke --env-vars`` may override: SAM passes only the variables the template
    declares, so the local-only keys cannot go in; the functions read the stack's queues and secrets."""
    from .doctor import AwsClients, settings_from_stack

    try:
        from .invoke import InvokeError, declared_variables, load_template
    except ImportError as error:
        raise Failure(f"sam-env-vars needs the development dependencies ({error.name} is missing): run `make setup`") from None
    try:
        declared = declared_variables(load_template(Path(args.project) / "template.yaml"))
    except InvokeError as error:
        raise UsageError(str(error)) from None
    env, _ = settings_from_stack(AwsClients(args.region).cloudformation, args.stack)
    print(json.dumps({"Parameters": {name: value for name, value in env.items() if name in declared}}, indent=2))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import DoctorOptions, run_doctor

    return run_doctor(DoctorOptions(stack=args.stack, region=args.region, endpoint_url=args.endpoint_url, probe=args.probe, as_json=args.as_json))


# ---- dlq ----------------------------------------------------------------------------------------


def _dlq(args: argparse.Namespace) -> int:
    from .dlq import DeadLetters, queue_urls

    if args.max is not None and args.max < 1:
        raise UsageError("--max takes a whole number of at least 1")
    dead_letter_url, delivery_url = queue_urls(args.stack, args.region, args.endpoint_url, args.queue_url, args.target_url)
    if not dead_letter_url:
        raise UsageError("which dead-letter queue? give --stack NAME, --queue-url, or set CIOHOOKS_DEAD_LETTER_QUEUE_URL")
    dead_letters = DeadLetters(dead_letter_url, _sqs_client(args.region, args.endpoint_url))
    if args.action == "purge":
        return _purge(dead_letters.queue, dead_letter_url, args.message_id, args.yes, args.max or 1000)
    if args.action == "list":
        return dead_letters.list(args.max)
    if args.action == "show":
        if not args.message_id:
            raise UsageError("show takes the MESSAGE_ID that `ciohooks dlq list` printed")
        return dead_letters.show(args.message_id, args.max)
    if not delivery_url:
        raise UsageError("replay to which queue? give --stack NAME, --to, or set CIOHOOKS_DELIVERY_QUEUE_URL")
    return dead_letters.replay(delivery_url, args.message_id, args.max)


def _sqs_client(region: str | None, endpoint_url: str | None) -> Any:
    from .doctor import AwsClients

    return AwsClients(region, endpoint_url).sqs


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


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _serve,
    "translate": _translate,
    "sources": _sources,
    "send": _send,
    "invoke": _invoke,
    "sam-env-vars": _sam_env_vars,
    "dlq": _dlq,
    "doctor": _doctor,
    "check-source": _check_source,
}


def run() -> None:
    """Console entry point: a closed pipe (``ciohooks translate ... | head``) is not an error."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    run()
