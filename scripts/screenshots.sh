#!/usr/bin/env bash
# Screenshots of every inspector page, as docs/screenshots/*.png, made by
# the browser test on the quickstart's samples (needs Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/screenshots
BUZZMIRROR_E2E_NO_RACE=1 BUZZMIRROR_SCREENSHOTS="$PWD/docs/screenshots" \
  go test -count=1 -run '^TestInspectorInABrowser$' ./e2e
ls -1 docs/screenshots
