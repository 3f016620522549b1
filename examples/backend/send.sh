#!/bin/sh
# Post an app-backend contract file to cio-hooks, signed with Standard Webhooks, with openssl and curl.
#
#   export BACKEND_SIGNING_SECRET='whsec_...'     # the secret the endpoint has (never hard-code it)
#   export BACKEND_URL=...                        # the BackendWebhookUrl output of the stack
#   ./send.sh "$BACKEND_URL" events.json
#   ./send.sh --dry-run events.json               # print the three signature headers, post nothing
#
# Signs "<webhook-id>.<webhook-timestamp>.<file bytes>" with HMAC-SHA256 under the base64-decoded
# secret and posts the file byte for byte (curl --data-binary), so the signature covers exactly
# what arrives. WEBHOOK_ID may be set to resend a message under its first id; otherwise a fresh one
# is made. Prints "<status> <response body>"; exits 0 on a 2xx answer, 1 otherwise.
#
# openssl receives the key as a command-line option, which other users of a shared machine can see
# in the process list: on such a machine use send.py.
set -eu

usage() { echo "usage: $0 URL FILE  |  $0 --dry-run FILE" >&2; exit 2; }

if [ "${1:-}" = "--dry-run" ]; then dry_run=1; url=; file=${2:-}; else dry_run=0; url=${1:-}; file=${2:-}; fi
[ -n "$file" ] && [ -r "$file" ] || usage
[ "$dry_run" = 1 ] || [ -n "$url" ] || usage
secret=${BACKEND_SIGNING_SECRET:?set BACKEND_SIGNING_SECRET to the whsec_... signing secret}

key=${secret#whsec_}
case $(( ${#key} % 4 )) in 2) key="$key==" ;; 3) key="$key=" ;; esac  # unpadded base64 is allowed
key_hex=$(printf '%s' "$key" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
[ -n "$key_hex" ] || { echo "BACKEND_SIGNING_SECRET is not whsec_ + base64" >&2; exit 2; }

msg_id=${WEBHOOK_ID:-msg_$(openssl rand -hex 16)}
timestamp=$(date +%s)
signature=$({ printf '%s.%s.' "$msg_id" "$timestamp"; cat "$file"; } |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A)

if [ "$dry_run" = 1 ]; then
    printf 'webhook-id: %s\nwebhook-timestamp: %s\nwebhook-signature: v1,%s\n' "$msg_id" "$timestamp" "$signature"
    exit 0
fi

response=$(mktemp)
trap 'rm -f "$response"' EXIT
status=$(curl --silent --show-error --max-time 30 --output "$response" --write-out '%{http_code}' \
    -X POST "$url" \
    -H 'content-type: application/json' \
    -H "webhook-id: $msg_id" \
    -H "webhook-timestamp: $timestamp" \
    -H "webhook-signature: v1,$signature" \
    --data-binary "@$file")
echo "$status $(cat "$response")"
case $status in 2??) exit 0 ;; *) exit 1 ;; esac
