"""``ciohooks invoke`` (``make invoke``): one function of template.yaml, its real handler module, in the
Lambda Runtime Interface Emulator (no Docker, no AWS account).

- What the function is (code folder, handler, timeout, memory, plain environment) is read from
  template.yaml, so it cannot drift from what ``sam deploy`` ships.
- Every AWS resource the function's environment refers to (``!Ref DeliveryQueue``, a DynamoDB table,
  an S3 bucket) is created in moto's server, run inside this process on loopback; the function
  reaches it through ``AWS_ENDPOINT_URL`` with dummy credentials. After the invoke, what the
  function left in each queue is printed, one summary per message.
- Secrets are the local-only keys (``events/keys/local.env``), so the generated events verify.
- The DeliverFunction's Customer.io is a dry-run endpoint on loopback that prints each call, unless
  ``CIOHOOKS_CUSTOMERIO_API_KEY`` is set (then the real API, or ``CIOHOOKS_CUSTOMERIO_BASE_URL``).

Development-time only (it needs moto, awslambdaric and the RIE of ``.venv-sam``: ``make setup``).
``sam local invoke`` runs the same handlers in Docker; see docs/DEPLOY.md for its env-vars file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from .lambda_runtime import LambdaRie, is_error
from .samples import local_keys

REGION = "us-east-1"
PSEUDO_PARAMETERS = {"AWS::StackName": "local", "AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class InvokeError(RuntimeError):
    """Something the user can fix (an unknown function, a missing file): the message says what."""


# ---- template.yaml ----------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """template.yaml with its CloudFormation tags as the long form (``!Ref X`` -> ``{"Ref": "X"}``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct)
    try:
        return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    except OSError as error:
        raise InvokeError(f"cannot read {path}: {error.strerror}: run from the project folder or give --project DIR") from None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]  # values still in template form (resolved against the embedded AWS)


def function_names(template: dict[str, Any]) -> list[str]:
    return sorted(name for name, r in template.get("Resources", {}).items() if r.get("Type") == "AWS::Serverless::Function")


def declared_variables(template: dict[str, Any]) -> set[str]:
    """Every environment variable some function of the template declares (Globals included): the
    only ones ``sam local invoke --env-vars`` can set."""
    functions = [r.get("Properties", {}) for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::Serverless::Function"]
    functions.append(template.get("Globals", {}).get("Function", {}))
    return {name for props in functions for name in props.get("Environment", {}).get("Variables", {})}


def function_spec(template: dict[str, Any], root: Path, logical_id: str) -> FunctionSpec:
    resource = template.get("Resources", {}).get(logical_id)
    if resource is None or resource.get("Type") != "AWS::Serverless::Function":
        raise InvokeError(f"no function {logical_id} in template.yaml: one of {', '.join(function_names(template))}")
    defaults = template.get("Globals", {}).get("Function", {})
    props = {**defaults, **resource.get("Properties", {})}
    environment = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
    }
    return FunctionSpec(logical_id, root / props["CodeUri"], props["Handler"], int(props.get("Timeout", 3)), int(props.get("MemorySize", 128)), environment)


# ---- the embedded AWS -------------------------------------------------------------------------


@dataclass
class EmbeddedAws:
    """moto's server in this process, on loopback, with the template's resources made on demand."""

    template: dict[str, Any]
    _server: Any = None
    endpoint_url: str = ""
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> URL

    def start(self) -> EmbeddedAws:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise here
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")

    def resolve(self, value: Any) -> str | None:
        """A template value as the function would see it; ``None`` where it cannot be had locally."""
        if isinstance(value, (str, int, float, bool)):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        (kind, arg), = value.items()
        if kind == "Ref":
            return self._ref(arg)
        if kind == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 3:
            keys = [self.resolve(a) for a in arg]
            return self.resolve(self.template.get("Mappings", {}).get(keys[0], {}).get(keys[1], {}).get(keys[2]))
        if kind == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            items = arg[1] if isinstance(arg[1], list) else [arg[1]]
            parts = [self.resolve(item) for item in items]
            return None if None in parts else arg[0].join(p for p in parts if p)
        return None

    def _ref(self, name: str) -> str | None:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if (parameter := self.template.get("Parameters", {}).get(name)) is not None:
            default = parameter.get("Default", "")
            return ",".join(default) if isinstance(default, list) else str(default)
        resource = self.template.get("Resources", {}).get(name, {})
        maker = {"AWS::SQS::Queue": self._queue, "AWS::DynamoDB::Table": self._table, "AWS::S3::Bucket": self._bucket}.get(resource.get("Type"))
        return maker(name, resource.get("Properties", {})) if maker else None

    def _queue(self, name: str, props: dict[str, Any]) -> str:
        if name not in self.queues:
            self.queues[name] = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return self.queues[name]

    def _table(self, name: str, props: dict[str, Any]) -> str:
        dynamodb = self.client("dynamodb")
        if name not in dynamodb.list_tables()["TableNames"]:
            indexes = [{key: index[key] for key in ("IndexName", "KeySchema", "Projection")} for index in props.get("GlobalSecondaryIndexes", [])]
            dynamodb.create_table(TableName=name, KeySchema=props["KeySchema"], AttributeDefinitions=props["AttributeDefinitions"],
                                  BillingMode="PAY_PER_REQUEST", **({"GlobalSecondaryIndexes": indexes} if indexes else {}))
        return name

    def _bucket(self, name: str, props: dict[str, Any]) -> str:
        bucket = name.lower()
        self.client("s3").create_bucket(Bucket=bucket)
        return bucket

    def drain(self) -> Iterator[tuple[str, str]]:
        """(queue logical id, message body) of everything the function left in the queues."""
        sqs = self.client("sqs")
        for name, url in self.queues.items():
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    yield name, message["Body"]
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


# ---- Customer.io, dry run ---------------------------------------------------------------------


class DryRunCustomerIO:
    """A loopback endpoint that answers ``/v1/batch`` with 200 and prints each event it was sent,
    as ``ciohooks serve``'s dry-run sink does: the deliver handler runs whole, nothing leaves the machine."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        write_line = write

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    events = json.loads(body).get("batch", []) if self.path.endswith("/batch") else [json.loads(body)]
                except (ValueError, AttributeError):
                    events = []
                for event in events:
                    write_line(json.dumps({"method": "POST", "url": "https://cdp.customer.io/v1/track", "body": event}, ensure_ascii=False))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="dry-run-customerio", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the invoke -------------------------------------------------------------------------------


@dataclass
class InvokeOptions:
    function: str
    event: Path
    root: Path = Path(".")
    keys: Path | None = Path("events/keys")
    env: dict[str, str] = field(default_factory=dict)
    python: str = sys.executable
    layer: bool = False  # only the deployed layer's files on the path (built under <project>/.ciohooks-cache)


def invoke(options: InvokeOptions, out: Callable[[str], Any] = print, err: Callable[[str], Any] | None = None) -> int:
    """Invoke once; print the result (stdout), the function's log and what it queued (stderr).
    0 when the handler returned, 1 when it raised."""
    err = err or (lambda line: print(line, file=sys.stderr, flush=True))
    root = options.root.resolve()
    event = _read_event(options.event)
    template = load_template(root / "template.yaml")
    spec = function_spec(template, root, options.function)
    aws = EmbeddedAws(template).start()
    customerio = None
    try:
        environment = _environment(spec, aws, options)
        if spec.logical_id == "DeliverFunction" and "CIOHOOKS_CUSTOMERIO_API_KEY" not in environment:
            customerio = DryRunCustomerIO(out)
            environment.update(CIOHOOKS_CUSTOMERIO_API_KEY="dry-run", CIOHOOKS_CUSTOMERIO_BASE_URL=customerio.base_url)
        if options.layer:
            from .lambda_runtime import build_layer_dir

            err("building the layer (requirements.txt + shared/ciohooks; the first time, pip installs for a minute)")
            path, isolated = [build_layer_dir(root, root / ".ciohooks-cache", options.python)], True
        else:  # the project's own interpreter and packages, its shared/ first
            path, isolated = [root / "shared"], False
        rie = LambdaRie(spec.handler, spec.code_dir, path, environment, python=options.python, isolated=isolated,
                        function_name=spec.logical_id, timeout=spec.timeout, memory_size=spec.memory_size, repo_root=root)
        with rie:
            payload, seconds = rie.invoke(event)
            logs = rie.logs()
        for line in logs.splitlines():
            err(line)
        out(json.dumps(payload, ensure_ascii=False))
        for queue, body in aws.drain():
            err(f"{queue}: {json.dumps(_summary(body))}")
        err(f"{spec.logical_id}: {seconds * 1000:.0f} ms (cold start included)")
        return 1 if is_error(payload) else 0
    finally:
        if customerio is not None:
            customerio.stop()
        aws.stop()


def _read_event(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        raise InvokeError(f"cannot read the event {path}: {error.strerror} (the events are under events/<family>/<source>/ and events/deliver/)") from None
    except ValueError:
        raise InvokeError(f"{path} is not JSON: give a Lambda event (events/ holds one per sample)") from None


def _environment(spec: FunctionSpec, aws: EmbeddedAws, options: InvokeOptions) -> dict[str, str]:
    environment = {name: resolved for name, value in spec.environment.items() if (resolved := aws.resolve(value)) is not None}
    if options.keys is not None:
        try:
            environment.update(local_keys(options.root / options.keys))
        except OSError as error:
            raise InvokeError(f"cannot read {options.keys}/local.env: {error.strerror} (give --local-keys DIR, or --no-local-keys)") from None
    # A region for the SDKs, and every AWS call to the embedded moto (the RIE adds dummy credentials).
    environment.update(AWS_ENDPOINT_URL=aws.endpoint_url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
    for name in ("CIOHOOKS_CUSTOMERIO_API_KEY", "CIOHOOKS_CUSTOMERIO_BASE_URL"):
        if os.environ.get(name):
            environment[name] = os.environ[name]
    environment.update(options.env)
    return environment


def _summary(body: str) -> dict[str, Any]:
    from .envelope import Envelope

    try:
        return Envelope.from_json(body).summary()
    except ValueError:
        return {"kind": "unknown", "bytes": len(body)}
