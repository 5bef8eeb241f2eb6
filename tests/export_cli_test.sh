#!/usr/bin/env bash
# `rlforge export`, `rlforge bench runtime` and the runtime example through
# the real binaries: exit codes, one-line errors, and a game loop that links
# only the runtime acting with an exported policy.
set -u
BIN="$1"
EXAMPLE="$2"
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() {  # name expected_code expected_stderr_substring -- command...
  local name="$1" want="$2" needle="$3"; shift 4
  local code err
  "$@" >"$tmp/out" 2>"$tmp/err"; code=$?; err=$(cat "$tmp/err")
  if [[ "$code" != "$want" ]]; then echo "FAIL $name: exit $code, want $want; stderr: $err"; fails=$((fails+1)); return; fi
  if [[ -n "$needle" && "$err$(cat "$tmp/out")" != *"$needle"* ]]; then echo "FAIL $name: output lacks '$needle': $err"; fails=$((fails+1)); return; fi
  if [[ "$want" != 0 && $(printf '%s' "$err" | wc -l) -gt 0 ]]; then echo "FAIL $name: error is not one line: $err"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}

"$BIN" train --algo ppo --env CartPole-v1 --steps 4096 --set eval_episodes=0 --no-progress --out "$tmp/ppo" >/dev/null 2>&1
"$BIN" train --algo q-learning --env FrozenLake-v1 --steps 500 --set eval_episodes=0 --no-progress --out "$tmp/tab" >/dev/null 2>&1

check export-rlf 0 "equal rlforge's on 2000 of 2000" -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp/p.rlf"
check export-int8 0 "int8: greedy actions agree" -- "$BIN" export "$tmp/ppo" --format rlf --quantize int8 --out "$tmp/q.rlf"
check export-torchscript 0 "torch::jit::load of $tmp/p.pt gives the same actions on 2000 of 2000" -- "$BIN" export "$tmp/ppo" --format torchscript --out "$tmp/p.pt"
check export-onnx 0 "wrote $tmp/p.onnx (onnx" -- "$BIN" export "$tmp/ppo" --format onnx --out "$tmp/p.onnx" --check 0
check export-describe 0 '"kind": "categorical"' -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp/d.rlf" --check 0 --describe
check export-bad-format 2 "--format must be rlf, torchscript or onnx, got 'keras'" -- "$BIN" export "$tmp/ppo" --format keras --out "$tmp/x"
check export-int8-onnx 2 "--quantize int8 is for the rlf runtime" -- "$BIN" export "$tmp/ppo" --format onnx --quantize int8 --out "$tmp/x"
check export-bad-quantize 2 "--quantize takes int8, got 'int4'" -- "$BIN" export "$tmp/ppo" --format rlf --quantize int4 --out "$tmp/x"
check export-out-dir 2 "is a directory" -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp"
check export-tabular 2 "q-learning's policy is not a network" -- "$BIN" export "$tmp/tab" --format rlf --out "$tmp/x"
check export-missing-run 2 "" -- "$BIN" export "$tmp/nope" --format rlf --out "$tmp/x"
[[ ! -e "$tmp/x" ]] && echo "ok   nothing-written-on-error" || { echo "FAIL a file was written on error"; fails=$((fails+1)); }

# The example game loop links only the runtime and plays with the export.
check example-plays 0 "over 3 episodes" -- "$EXAMPLE" "$tmp/p.rlf" 3
check example-int8 0 "over 3 episodes" -- "$EXAMPLE" "$tmp/q.rlf" 3
if ldd "$EXAMPLE" | grep -q torch; then echo "FAIL the example links libtorch"; fails=$((fails+1)); else echo "ok   example-without-libtorch"; fi
head -c 200 "$tmp/p.rlf" > "$tmp/cut.rlf"
check example-truncated 1 "truncated" -- "$EXAMPLE" "$tmp/cut.rlf" 1
python3 - "$tmp/p.rlf" "$tmp/flip.rlf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
check example-damaged 1 "damaged (checksum mismatch)" -- "$EXAMPLE" "$tmp/flip.rlf" 1
check example-not-a-model 1 "not an rlforge model" -- "$EXAMPLE" "$tmp/p.onnx" 1

check bench-runtime 0 '"single_latency_us"' -- "$BIN" bench runtime --policy "$tmp/ppo" --rounds 1 --seconds 0.02 --observations 100 --batch 32 --json
check bench-runtime-bad 2 "--batch must be in 1..65536" -- "$BIN" bench runtime --policy "$tmp/ppo" --batch 0

echo "$((fails)) failed"
[[ $fails -eq 0 ]]
