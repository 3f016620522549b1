#!/usr/bin/env python3
"""Post an app-backend contract file to cio-hooks, signed with Standard Webhooks.

    pip install standardwebhooks
    export BACKEND_SIGNING_SECRET='whsec_...'     # the secret the endpoint has (never hard-code it)
    export BACKEND_URL=...                        # the BackendWebhookUrl output of the stack
    python send.py "$BACKEND_URL" events.json
    python send.py --dry-run events.json          # print the three signature headers, post nothing

The file's bytes are signed and posted unchanged: re-serialising the JSON after signing would break
the signature. ``--id`` resends a message under its first webhook-id (Standard Webhooks keeps the
id across retries); by default each run makes a fresh one. Duplicates are harmless either way: the
endpoint derives each event's messageId from the event's own ``id``. Prints "<status> <body>";
exits 0 on a 2xx answer. Only the standard library and ``standardwebhooks`` are needed, so this
file can be copied into any backend or function as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

SECRET_VARIABLE = "BACKEND_SIGNING_SECRET"


def signed_headers(secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """The request headers for ``body``: content type and the Standard Webhooks id, timestamp, signature."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=timezone.utc), body.decode("utf-8"))
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:  # a 4xx/5xx still has a body worth reading
        return error.code, error.read().decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="the /backend URL (omit with --dry-run)")
    parser.add_argument("file", help="a JSON file: {\"version\": 1, \"events\": [...]}")
    parser.add_argument("--dry-run", action="store_true", help="print the signature headers instead of posting")
    parser.add_argument("--id", dest="msg_id", help="the webhook-id to use (resending a message)")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_VARIABLE)
    if not secret:
        print(f"send.py: set {SECRET_VARIABLE} to the whsec_... signing secret", file=sys.stderr)
        return 2
    if not args.dry_run and not args.url:
        parser.error("a URL is needed unless --dry-run is given")
    with open(args.file, "rb") as file:
        body = file.read()
    headers = signed_headers(secret, body, args.msg_id)
    if args.dry_run:
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            print(f"{name}: {headers[name]}")
        return 0
    status, text = post(args.url, body, headers)
    print(f"{status} {text.strip()}")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
