#!/usr/bin/env bash
# Runs a bench command with the hub (the benchmark's own process, which hosts it) on CPU 1 and every Chromium
# process on CPU 0, then says how busy each side was: which of the two limits a result.
#   bench/pinned.sh push 500 100
# Needs taskset (util-linux) and a machine with at least two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ticks() { # summed utime+stime (clock ticks) of the processes whose command line matches $1
  local total=0
  for pid in $(pgrep -f "$1" || true); do
    if [[ -r /proc/$pid/stat ]]; then
      total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    fi
  done
  echo "$total"
}

browsers='/usr/(lib/chromium/chromium|bin/chromium)|playwright.*node|node.*playwright'
(
  while sleep 0.5; do
    for pid in $(pgrep -f "$browsers" || true); do taskset -a -pc 0 "$pid" >/dev/null 2>&1 || true; done
  done
) &
pinner=$!
samples=$(mktemp)
(
  hz=$(getconf CLK_TCK)
  while sleep 10; do
    b=$(ticks "$browsers"); h=$(ticks 'OperationsHub.Bench')
    echo "$b $h $hz" >> "$samples"
  done
) &
sampler=$!
trap 'kill $pinner $sampler 2>/dev/null || true; rm -f "$samples"' EXIT

taskset -c 1 dotnet run -c Release --no-build --project bench/OperationsHub.Bench -- "$@"

# Busiest 10-second window of each side, in % of its one core (browsers: CPU 0, hub: CPU 1).
awk 'NR > 1 { db = $1 - pb; dh = $2 - ph; if (db > mb) mb = db; if (dh > mh) mh = dh; sb += db; sh += dh; n++ }
     { pb = $1; ph = $2; hz = $3 }
     END { if (n > 0) printf "CPU while it ran (10 s windows): browsers on CPU 0 %.0f %% on average, %.0f %% at most; hub on CPU 1 %.0f %% on average, %.0f %% at most\n",
           sb / n / hz / 10 * 100, mb / hz / 10 * 100, sh / n / hz / 10 * 100, mh / hz / 10 * 100 }' "$samples"
