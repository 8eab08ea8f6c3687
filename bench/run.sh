#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md on this machine: ingest on SQLite,
# the journal-only baseline, ingest on Postgres, rebuild of a 1.3 million
# event journal, and the read API on the mirror it makes.
# Usage: bench/run.sh [seconds] [ingest|rebuild|all]   (Postgres at $PG)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
part=${2:-all}
PG=${PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$work"
  for db in buzzmirror_bench buzzmirror_bench_journal; do psql -q "$PG" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
}
trap cleanup EXIT
go build -o "$work/buzzmirror" .
bm="$work/buzzmirror"
export BUZZMIRROR_WEBHOOK_SECRET=bench-secret BUZZMIRROR_LISTEN=127.0.0.1:18181 BUZZMIRROR_LOG_LEVEL=warn

serve() { # serve [flags...]: start the service, wait until ready, print its pid
  "$bm" serve "$@" >"$work/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://$BUZZMIRROR_LISTEN/readyz" >/dev/null && break; sleep 0.1; done
  echo "$pid"
}
ingest() { "$bm" bench ingest --url "http://$BUZZMIRROR_LISTEN/webhooks/buzzbip" --connections 64 --duration "${secs}s" --server-pid "$1"; }
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }
settle() { # settle [DATABASE]: remove what the run before wrote and let the disk catch up, so that no run pays for another's writeback
  rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm
  if [ -n "${1:-}" ]; then psql -q "$PG" -c "DROP DATABASE IF EXISTS $1" >/dev/null; fi
  psql -q "$PG" -c CHECKPOINT >/dev/null 2>&1 || true
  sync; sleep 5
}
fresh_pg() { # fresh_pg NAME: an empty Postgres database, its DSN on stdout
  psql -q "$PG" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  echo "${PG/\/postgres\?//$1?}"
}

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, $(go version)"
if [ "$part" != rebuild ]; then
settle
echo "== ingest, SQLite, full projection"
pid=$(BUZZMIRROR_DATABASE_DSN="$work/mirror.db" serve); ingest "$pid"; stop "$pid"; settle
echo "== ingest, SQLite, journal only (baseline)"
pid=$(BUZZMIRROR_DATABASE_DSN="$work/journal.db" serve --journal-only); ingest "$pid"; stop "$pid"; settle
echo "== ingest, Postgres, full projection"
dsn=$(fresh_pg buzzmirror_bench)
pid=$(BUZZMIRROR_DATABASE_DRIVER=postgres BUZZMIRROR_DATABASE_DSN="$dsn" serve); ingest "$pid"; stop "$pid"; settle buzzmirror_bench
echo "== ingest, Postgres, journal only (baseline)"
dsn=$(fresh_pg buzzmirror_bench_journal)
pid=$(BUZZMIRROR_DATABASE_DRIVER=postgres BUZZMIRROR_DATABASE_DSN="$dsn" serve --journal-only); ingest "$pid"; stop "$pid"; settle buzzmirror_bench_journal
fi
[ "$part" = ingest ] && exit 0

echo "== rebuild, SQLite: 100k contacts, 200k conversations, 1M messages"
export BUZZMIRROR_DATABASE_DSN="$work/big.db"
"$bm" bench seed --contacts 100000 --conversations 200000 --messages 1000000
/usr/bin/time -f "rebuild wall %es, max RSS %M KiB" "$bm" rebuild
echo "== read API on that mirror, 16 connections"
pid=$(serve); "$bm" bench read --url "http://$BUZZMIRROR_LISTEN" --connections 16 --duration "${secs}s" --server-pid "$pid"; stop "$pid"
