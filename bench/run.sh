#!/usr/bin/env bash
# Measures the figures of BENCHMARKS.md on this machine. Every comparison
# runs its two sides interleaved, in the same run.
#
#   bench/run.sh [seconds] [part...]    parts: ingest fresh rebuild read (default), inspector
#
# ingest   SQLite and Postgres: the journal-only server and the full one,
#          twice each, interleaved; 64 connections, 2 % duplicates, 10 %
#          out of order; the full server then catches up.
# fresh    both databases: a steady load at half the full server's maximum
#          just measured; the age of the oldest pending event.
# rebuild  SQLite: a 3M-event journal rebuilt by `rebuild`, then copied by
#          `backup`, while 100 deliveries a second arrive; with
#          OLD=<binary of the earlier code> that binary's rebuild of the
#          same journal too.
# read     both databases, 1.3M events (1M messages): an NDJSON export of
#          every message (server RSS), the read API at 16 connections, a
#          rare word in the bodies and /v1/stats one at a time;
#          on SQLite then a retention sweep of every body and an erasure
#          while 100 deliveries a second arrive.
# inspector  the inspector's pages on the same data set, SQLite, 8
#          connections (not in the default parts).
# Postgres at $PG (a database the script may create and drop); DBS=postgres
# (or sqlite) limits ingest, fresh and read to one database.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
parts=${*:-ingest fresh rebuild read}
PG=${PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
work=$(mktemp -d)
cleanup() {
  kill $(jobs -p) $(cat "$work/pids" 2>/dev/null) 2>/dev/null || true
  rm -rf "$work"
  for db in buzzmirror_bench buzzmirror_bench_journal; do psql -q "$PG" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
}
trap cleanup EXIT
go build -o "$work/buzzmirror" .
bm="$work/buzzmirror"
export BUZZMIRROR_WEBHOOK_SECRET=bench-secret BUZZMIRROR_LISTEN=127.0.0.1:18181 BUZZMIRROR_LOG_LEVEL=warn
hook="http://$BUZZMIRROR_LISTEN/webhooks/buzzbip"

serve() { # serve [flags...]: start the service, wait until ready, print its pid
  if curl -sf "http://$BUZZMIRROR_LISTEN/healthz" >/dev/null; then
    echo "run.sh: something already answers on $BUZZMIRROR_LISTEN" >&2; exit 1
  fi
  "$bm" serve "$@" >>"$work/serve.log" 2>&1 &
  local pid=$!
  echo "$pid" >>"$work/pids" # started in a subshell: not one of this shell's jobs
  for _ in $(seq 200); do curl -sf "http://$BUZZMIRROR_LISTEN/readyz" >/dev/null && break; sleep 0.1; done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: serve exited:" >&2; tail -n 5 "$work/serve.log" >&2; exit 1
  fi
  echo "$pid"
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }
settle() { # remove what the run before wrote and let the disk catch up
  rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm
  psql -q "$PG" -c "DROP DATABASE IF EXISTS buzzmirror_bench" >/dev/null 2>&1 || true
  psql -q "$PG" -c CHECKPOINT >/dev/null 2>&1 || true
  sync; sleep 5
}
database() { # database sqlite|postgres: a fresh database, as variables for serve
  if [ "$1" = sqlite ]; then
    echo "BUZZMIRROR_DATABASE_DRIVER=sqlite BUZZMIRROR_DATABASE_DSN=$work/bench.db"
  else
    psql -q "$PG" -c "CREATE DATABASE buzzmirror_bench" >/dev/null
    echo "BUZZMIRROR_DATABASE_DRIVER=postgres BUZZMIRROR_DATABASE_DSN=${PG/\/postgres\?//buzzmirror_bench?}"
  fi
}
ingest() { # ingest DB MODE [bench flags...]: one run; prints the tool's report
  local db=$1 mode=$2; shift 2
  local flag=""; [ "$mode" = journal ] && flag=--journal-only
  eval "export $(database "$db")"
  local pid; pid=$(serve $flag)
  "$bm" bench ingest --url "$hook" --connections 64 --duration "${secs}s" --duplicates 0.02 --server-pid "$pid" "$@"
  stop "$pid"; settle
}
rate() { awk '/^ingest: /{print $7}' | tr -d '/s' | sort -n | tail -1; } # the best events/s of the reports read

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, $(go version), $(date -u +%FT%TZ)"
echo "== speed: $(go test -run XXX -bench 'BenchmarkVerify$' -count 1 ./sync | awk '/ns\/op/{print $3, $4}') (BenchmarkVerify)"
settle
for db in ${DBS:-sqlite postgres}; do
  if [[ " $parts " == *" ingest "* ]]; then
    for round in 1 2; do
      echo "== ingest, $db, journal only (baseline), round $round"; ingest "$db" journal | tee -a "$work/$db-journal.txt"
      echo "== ingest, $db, full, round $round, then catch-up"; ingest "$db" full --catch-up | tee -a "$work/$db-full.txt"
    done
  fi
  if [[ " $parts " == *" fresh "* ]]; then
    max=$(rate <"$work/$db-full.txt" 2>/dev/null || true)
    half=$(( ${max:-5000} / 2 ))
    echo "== freshness, $db: $half deliveries/s (half of $max)"; ingest "$db" full --rate "$half"
  fi
done

if [[ " $parts " == *" rebuild "* ]]; then
  export BUZZMIRROR_DATABASE_DRIVER=sqlite BUZZMIRROR_DATABASE_DSN="$work/big.db"
  seed="--contacts 200000 --conversations 400000 --messages 2400000"
  echo "== rebuild, SQLite, 3M events ($seed), while 100 deliveries a second arrive"
  "$bm" bench seed $seed
  pid=$(serve)
  "$bm" bench ingest --url "$hook" --connections 4 --rate 100 --duration 30m >"$work/during.txt" 2>&1 &
  sender=$!
  /usr/bin/time -f "rebuild: wall %es, max RSS %M KiB" "$bm" rebuild 2>&1 | grep -v '^rebuild: [0-9]' || true
  kill -INT "$sender"; wait "$sender" 2>/dev/null || true
  sed 's/^/deliveries during the rebuild: /' "$work/during.txt"
  echo "== backup of that database ($(du -h "$work/big.db" | cut -f1)), while 100 deliveries a second arrive"
  "$bm" bench ingest --url "$hook" --connections 4 --rate 100 --duration 30m >"$work/during.txt" 2>&1 &
  sender=$!
  /usr/bin/time -f "backup: wall %es, max RSS %M KiB" "$bm" backup "$work/copy.db" 2>&1 | grep -v '^backup: [0-9.]* [KMG]iB written' || true
  kill -INT "$sender"; wait "$sender" 2>/dev/null || true
  sed 's/^/deliveries during the backup: /' "$work/during.txt"
  stop "$pid"; rm -f "$work"/copy.db
  if [ -n "${OLD:-}" ]; then
    rm -f "$work"/big.db*
    echo "== rebuild of the same journal by $OLD (no deliveries: it holds the write lock)"
    "$OLD" bench seed $seed
    /usr/bin/time -f "old rebuild: wall %es, max RSS %M KiB" "$OLD" rebuild | tail -n 1
  fi
  rm -f "$work"/big.db*
fi

# The inspector's pages on the same data set, SQLite, 8 connections.
if [[ " $parts " == *" inspector "* ]]; then
  export BUZZMIRROR_DATABASE_DRIVER=sqlite BUZZMIRROR_DATABASE_DSN="$work/ui.db"
  size="--contacts 100000 --conversations 200000 --messages 1000000"
  echo "== inspector pages, SQLite, $size, 8 connections"
  "$bm" bench seed $size >/dev/null
  "$bm" rebuild | tail -n 1
  pid=$(BUZZMIRROR_API_TOKENS=bench-token serve)
  "$bm" bench read --inspector --token bench-token --url "http://$BUZZMIRROR_LISTEN" --connections 8 --duration "${secs}s" --server-pid "$pid" $size
  # The contacts search is a substring scan (as the API's q): on its own.
  for q in c1 c22 c333; do
    curl -so /dev/null -H 'Authorization: Bearer bench-token' -w "ui contacts?q=$q: %{time_total}s\n" "http://$BUZZMIRROR_LISTEN/ui/contacts?q=$q"
  done
  stop "$pid"; settle
fi

# The 1M-message data set of the read targets, on both databases.
size="--contacts 100000 --conversations 200000 --messages 1000000"
for db in ${DBS:-sqlite postgres}; do
  [[ " $parts " == *" read "* ]] || break
  eval "export $(database "$db")"
  [ "$db" = sqlite ] && export BUZZMIRROR_DATABASE_DSN="$work/read.db"
  echo "== read API, $db, $size, 16 connections"
  "$bm" bench seed $size >/dev/null
  "$bm" rebuild | tail -n 1
  [ "$db" = sqlite ] && echo "disk: $(du -h "$work/read.db" | cut -f1) for 1,300,000 events (journal and mirror)"
  pid=$(serve)
  idle=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  start=$(date +%s.%N)
  rows=$(curl -sf -H 'Accept: application/x-ndjson' "http://$BUZZMIRROR_LISTEN/v1/messages" | wc -l)
  took=$(echo "$(date +%s.%N) - $start" | bc)
  peak=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  echo "export: $rows messages as NDJSON in ${took}s ($(echo "$rows / $took" | bc) rows/s); server RSS idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB (+$(((peak - idle) / 1024)) MiB)"
  "$bm" bench read --url "http://$BUZZMIRROR_LISTEN" --connections 16 --duration "${secs}s" --server-pid "$pid" $size
  # A rare word in message bodies: one search at a time (on SQLite it
  # reads the messages newest first until a page is full, and mixed into
  # the run above it held the read pool for everything else).
  for n in 10123 10456 10789 10234 10567; do
    curl -so /dev/null -w "messages?q=order #$n (rare): %{time_total}s\n" "http://$BUZZMIRROR_LISTEN/v1/messages?q=order+%23$n"
  done
  # /v1/stats alone (counters kept with the rows), one request at a time.
  for _ in $(seq 300); do curl -so /dev/null -w '%{time_total}\n' "http://$BUZZMIRROR_LISTEN/v1/stats"; done | sort -n |
    awk '{t[NR] = $1 * 1000} END {printf "stats alone, 300 in a row: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", t[int(NR / 2)], t[int(NR * 0.99)], t[NR]}'
  stop "$pid"
  if [ "$db" = sqlite ]; then
    echo "== privacy, SQLite: retention sweep of 1M message bodies and an erasure, while 100 deliveries a second arrive"
    : >"$work/serve.log"
    pid=$(BUZZMIRROR_RETENTION_MESSAGE_BODIES=1h BUZZMIRROR_LOG_LEVEL=info serve)
    "$bm" bench ingest --url "$hook" --connections 4 --rate 100 --duration 30m >"$work/during.txt" 2>&1 &
    sender=$!
    for _ in $(seq 1800); do grep -q 'message bodies removed' "$work/serve.log" && break; sleep 1; done
    grep 'message bodies removed' "$work/serve.log" | sed 's/^.*msg=//'
    /usr/bin/time -f "erase: wall %es, max RSS %M KiB" "$bm" erase --yes contact cnt_42 2>&1 | grep -v level=
    kill -INT "$sender"; wait "$sender" 2>/dev/null || true
    sed 's/^/deliveries during the sweep and the erasure: /' "$work/during.txt"
    stop "$pid"
  fi
  settle
done
