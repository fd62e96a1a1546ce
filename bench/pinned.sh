#!/usr/bin/env bash
# Runs a bench command with the hub (the benchmark's own process, which hosts it) on CPU 1 and every Chromium and
# Playwright driver process on CPU 0, so each side has one core of its own. The push benchmark prints how busy each
# side was while the completions landed: the side near 100 % is the one that limits the result.
#   bench/pinned.sh push 500 100
# Needs taskset (util-linux) and a machine with at least two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

browsers='/usr/(lib/chromium/chromium|bin/chromium)|playwright.*node|node.*playwright'
(
  # The browsers start from the benchmark's process, so on CPU 1; they are moved as soon as they appear (their own
  # children then start on CPU 0).
  while sleep 0.5; do
    for pid in $(pgrep -f "$browsers" || true); do taskset -a -pc 0 "$pid" >/dev/null 2>&1 || true; done
  done
) &
pinner=$!
trap 'kill $pinner 2>/dev/null || true' EXIT

taskset -c 1 dotnet run -c Release --no-build --project bench/OperationsHub.Bench -- "$@"
