#!/usr/bin/env bash
# Smoke test of a built binary: version, then serve on a fresh SQLite
# database, send the samples, and read them back.
#
#   scripts/smoke.sh path/to/buzzmirror
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
"$bin" version
export BUZZMIRROR_WEBHOOK_SECRET=smoke-secret-0123456789 BUZZMIRROR_LISTEN=127.0.0.1:18088
"$bin" serve >serve.log 2>&1 &
for _ in $(seq 100); do curl -sf "http://$BUZZMIRROR_LISTEN/readyz" >/dev/null && break; sleep 0.1; done
"$bin" send --type all --id evt_smoke >/dev/null
for _ in $(seq 100); do
  [ "$(curl -sf "http://$BUZZMIRROR_LISTEN/v1/stats" | grep -o '"pending":[0-9]*')" = '"pending":0' ] && break
  sleep 0.1
done
waiting=$(curl -sf "http://$BUZZMIRROR_LISTEN/v1/conversations?awaitingReply=true")
case $waiting in
  *'"id":"conv_demo_2"'*) echo "smoke: ok" ;;
  *) echo "smoke: no waiting conversation: $waiting"; cat serve.log; exit 1 ;;
esac
