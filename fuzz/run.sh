#!/usr/bin/env bash
# Runs every fuzz target of a fuzz build: bash fuzz/run.sh BUILD_DIR SECONDS [RUNS]
# Each target starts from its seed corpus (fuzz/corpus/<target>) in a scratch
# copy, with a fixed seed; RUNS (when given) bounds the executions too, so a
# short run is the same every time. Prints one line per target (executions,
# corpus size, crashes) and exits 1 when a target found a crash, leaving the
# crashing input and the log in the scratch folder it names.
set -u
build="$(cd "$1" && pwd)"; seconds="$2"; runs="${3:-0}"
here="$(cd "$(dirname "$0")" && pwd)"
scratch=$(mktemp -d /tmp/rlforge_fuzz.XXXXXX)
status=0
for exe in "$build"/*_fuzz; do
  name=$(basename "$exe" _fuzz)
  mkdir -p "$scratch/$name/corpus"
  cp -r "$here/corpus/$name/." "$scratch/$name/corpus/" 2>/dev/null || true
  args=(-seed=1 -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$scratch/$name/")
  [[ "$runs" != 0 ]] && args+=(-runs="$runs")
  (cd "$scratch/$name" && "$exe" "${args[@]}" corpus >log 2>&1)
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$name/log" | grep -o '[0-9]*$')
  units=$(ls "$scratch/$name/corpus" | wc -l)
  if [[ $rc -ne 0 ]]; then
    echo "fuzz $name: CRASH after ${execs:-?} executions (exit $rc): $(grep -m1 -E 'SUMMARY|ERROR' "$scratch/$name/log"); input and log in $scratch/$name"
    status=1
  else
    echo "fuzz $name: ${execs:-?} executions, corpus $units inputs, no crash"
  fi
done
[[ $status -eq 0 ]] && rm -rf "$scratch"
exit $status
