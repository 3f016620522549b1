"""Sample payloads as the requests a provider would send, and the local-only keys that sign them.

One implementation for everything that turns a file of ``events/samples/`` into a request:
``events/generate.py`` (the Function URL events for ``sam local invoke``), ``ciohooks send`` and
``ciohooks translate``, the inspector's sample form, the tests and the bench.

    <name>.json   POSTed as application/json       <name>.form   POSTed as application/x-www-form-urlencoded
    <name>.txt    POSTed as text/plain (SNS)        <name>.query  a GET whose query string is the file
    <name>.meta.json (optional) adds {"method", "headers", "query"} to the request

And what a sample becomes, in one format for ``ciohooks translate`` and the golden files
(``events/golden.py``): one JSON line per Customer.io call (``call_line``), then one line saying
what was not sent and why (``not_sent_line``).
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import sources
from .request import WebhookRequest
from .sources.base import Translation

CONTENT_TYPES = {".json": "application/json", ".form": "application/x-www-form-urlencoded", ".txt": "text/plain"}
SAMPLE_SUFFIXES = (*CONTENT_TYPES, ".query")
#: The Function URL host of the generated events (a made-up one, in AWS's format).
HOST = "abcdefghij.lambda-url.us-east-1.on.aws"
#: When the generated events were "received": fixed, so the outputs are reproducible and their
#: signatures verify whenever they are invoked (ingest checks a signature's age against it).
RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
CUSTOMERIO_TRACK = "https://cdp.customer.io/v1/track"


def sample_folder(source: type[sources.Source], root: Path) -> Path:
    """Where ``source``'s samples are: ``<root>/<family>/<name>`` for a built-in (``root`` is
    events/samples), ``<name>.samples/`` beside its definition file for a custom source."""
    origin = getattr(source, "origin", None)  # a custom source's definition file (or ssm:<name>)
    if source.installed_by_definition and isinstance(origin, str) and not origin.startswith("ssm:"):
        definition = Path(origin)
        return definition.with_name(definition.stem + ".samples")
    return Path(root) / source.full_name()


def sample_files(folder: Path) -> list[Path]:
    """The samples in ``folder`` (not their ``.meta.json`` companions), sorted by name."""
    return sorted(p for p in Path(folder).glob("*.*") if p.suffix in SAMPLE_SUFFIXES and not p.name.endswith(".meta.json"))


def sample_request(
    source: type[sources.Source],
    sample: Path,
    *,
    received_at: datetime = RECEIVED,
    domain: str = HOST,
    path: str | None = None,
) -> WebhookRequest:
    """The request a provider would send with this sample, unsigned.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` when its ``.meta.json`` is not
    a JSON object or its suffix is not one of :data:`SAMPLE_SUFFIXES`."""
    sample = Path(sample)
    if sample.suffix not in SAMPLE_SUFFIXES:
        raise ValueError(f"{sample.name}: a sample ends in {', '.join(SAMPLE_SUFFIXES)}")
    meta = _meta(sample)
    raw = sample.read_bytes()
    if sample.suffix == ".query":
        method, body, query, headers = "GET", b"", raw.decode("utf-8", "replace").strip(), {}
    else:
        method, body, query, headers = "POST", raw, "", {"content-type": CONTENT_TYPES[sample.suffix]}
    headers = {"host": domain, "user-agent": f"{source.name}-sample", **headers, **{k.lower(): str(v) for k, v in meta.get("headers", {}).items()}}
    route = path or f"/{source.name.replace('_', '-')}"
    return WebhookRequest(meta.get("method", method), route, body, headers, meta.get("query", query), received_at=received_at, domain=domain)


def _meta(sample: Path) -> dict[str, Any]:
    meta_path = sample.with_name(sample.stem + ".meta.json")
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path.name} must hold a JSON object")
    return meta


def function_url_event(source: type[sources.Source], sample: Path, keys: Path | None) -> dict[str, Any]:
    """The Function URL (payload 2.0) event posting ``sample``, signed with the local-only key in
    ``keys`` where the source signs."""
    request = sample_request(source, sample)
    if keys is not None and (key := signing_key(source, keys)) is not None:
        request = source.sign(request, key)
    return request.to_function_url_event()


def local_keys(folder: str | Path) -> dict[str, str]:
    """``NAME=value`` lines of ``<folder>/local.env``: the local-only secrets of every source.

    The file is also sourceable by a shell (``set -a; . events/keys/local.env; set +a``), so values
    may be quoted as a shell quotes them."""
    values = {}
    for line in (Path(folder) / "local.env").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            values[name.strip()] = " ".join(shlex.split(value)) if value.strip() else ""
    return values


def signing_key(source: type[sources.Source], folder: str | Path) -> str | None:
    """The key that signs local samples for ``source``: its ``<name>-local.pem`` private key (asymmetric
    schemes), else the shared secret ``local.env`` gives it."""
    if source.transport != "https":
        return source.transport  # delivered by an AWS service, not signed: ``sign`` marks the request as its
    pem = Path(folder) / f"{source.name}-local.pem"
    if pem.exists():
        return pem.read_text()
    return local_keys(folder).get(f"CIOHOOKS_{source.secret_name}") if source.secret_name else None


def call_line(event: Any) -> str:
    """The Customer.io call one semantic event becomes, as one JSON line (no newline)."""
    return json.dumps({"method": "POST", "url": CUSTOMERIO_TRACK, "body": event.to_cio()}, ensure_ascii=False)


def not_sent_line(translation: Translation) -> str | None:
    """``{"not_sent": {"ignored": {type: n}, "unknown": {type: n}, "failed": [reason]}}`` with the
    parts that are not empty, or None when everything was sent."""
    not_sent = {
        "ignored": dict(sorted(translation.ignored.items())),
        "unknown": dict(sorted(translation.unknown.items())),
        "failed": translation.failed,
    }
    if not any(not_sent.values()):
        return None
    return json.dumps({"not_sent": {key: value for key, value in not_sent.items() if value}}, ensure_ascii=False)
