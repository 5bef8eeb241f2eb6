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
  if [[ "$want" == 2 && -s "$tmp/out" ]]; then echo "FAIL $name: stdout on error: $(cat "$tmp/out")"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}

"$BIN" train --algo ppo --env CartPole-v1 --steps 4096 --set eval_episodes=0 --no-progress --out "$tmp/ppo" >/dev/null 2>&1
"$BIN" train --algo recurrent-ppo --env CartPoleNoVel-v1 --steps 512 --set n_steps=64 --set eval_episodes=0 --no-progress --out "$tmp/rnn" >/dev/null 2>&1
"$BIN" train --algo q-learning --env FrozenLake-v1 --steps 500 --set eval_episodes=0 --no-progress --out "$tmp/tab" >/dev/null 2>&1

check export-rlf 0 "equal rlforge's on 2000 of 2000" -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp/p.rlf"
check export-int8 0 "int8: greedy actions agree" -- "$BIN" export "$tmp/ppo" --format rlf --quantize int8 --out "$tmp/q.rlf"
"$BIN" train --algo sac --env Pendulum-v1 --steps 300 --set learning_starts=100 --set eval_episodes=0 --no-progress --out "$tmp/sac" >/dev/null 2>&1
# Box actions: how far int8 moves them (a 1e-5 agreement rate read as a broken export).
check export-int8-box 0 "int8: actions differ from the float model's by at most" -- "$BIN" export "$tmp/sac" --format rlf --quantize int8 --check 200 --out "$tmp/sq.rlf"
check export-torchscript 0 "torch::jit::load of $tmp/p.pt gives the same actions on 2000 of 2000" -- "$BIN" export "$tmp/ppo" --format torchscript --out "$tmp/p.pt"
check export-onnx 0 "wrote $tmp/p.onnx (onnx" -- "$BIN" export "$tmp/ppo" --format onnx --out "$tmp/p.onnx" --check 0
check export-describe 0 '"kind": "categorical"' -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp/d.rlf" --check 0 --describe
check export-bad-format 2 "--format must be rlf, torchscript or onnx, got 'keras'" -- "$BIN" export "$tmp/ppo" --format keras --out "$tmp/x"
check export-int8-onnx 2 "--quantize int8 is for the rlf runtime" -- "$BIN" export "$tmp/ppo" --format onnx --quantize int8 --out "$tmp/x"
check export-bad-quantize 2 "--quantize takes int8, got 'int4'" -- "$BIN" export "$tmp/ppo" --format rlf --quantize int4 --out "$tmp/x"
check export-out-missing-dir 2 "no directory $tmp/none" -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp/none/x.rlf"
check export-out-dir 2 "is a directory" -- "$BIN" export "$tmp/ppo" --format rlf --out "$tmp"
check export-tabular 2 "q-learning's policy is not a network" -- "$BIN" export "$tmp/tab" --format rlf --out "$tmp/x"
check export-missing-run 2 "" -- "$BIN" export "$tmp/nope" --format rlf --out "$tmp/x"
# The format follows --out's extension; one the extension contradicts is refused.
check export-format-from-name 0 "wrote $tmp/auto.onnx (onnx" -- "$BIN" export "$tmp/ppo" --out "$tmp/auto.onnx" --check 0
check export-format-contradicts-name 2 "$tmp/x.rlf's extension says rlf, but --format is onnx (name it .onnx, or give --format rlf)" -- "$BIN" export "$tmp/ppo" --format onnx --out "$tmp/x.rlf"
# A FIFO (or a device) was replaced by a regular file; a symbolic link is written through.
mkfifo "$tmp/fifo"
check export-to-fifo 2 "it is not a regular file (a device, FIFO or socket)" -- "$BIN" export "$tmp/ppo" --out "$tmp/fifo" --format rlf --check 0
[[ -p "$tmp/fifo" ]] && echo "ok   export-fifo-kept" || { echo "FAIL the FIFO was replaced"; fails=$((fails+1)); }
ln -s "$tmp/p.rlf" "$tmp/link.rlf"
check export-through-link 0 "" -- "$BIN" export "$tmp/ppo" --out "$tmp/link.rlf" --check 0
[[ -L "$tmp/link.rlf" ]] && echo "ok   export-link-kept" || { echo "FAIL the link was replaced"; fails=$((fails+1)); }
[[ ! -e "$tmp/x" ]] && echo "ok   nothing-written-on-error" || { echo "FAIL a file was written on error"; fails=$((fails+1)); }

# The example game loop links only the runtime and plays with the export.
check example-plays 0 "over 3 episodes" -- "$EXAMPLE" "$tmp/p.rlf" 3
check example-int8 0 "over 3 episodes" -- "$EXAMPLE" "$tmp/q.rlf" 3
check example-bad-episodes 2 "EPISODES must be a whole number" -- "$EXAMPLE" "$tmp/p.rlf" abc
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

# rlforge serve: a served policy drives eval as the run itself does (on a
# strict TowerDefense too, whose conditional masks the client applies to the
# served probabilities); SIGTERM stops the server promptly with exit 0.
"$BIN" train --algo ppo --env TowerDefense-v0 --steps 2048 --set num_envs=2 --set n_steps=64 --set batch_size=64 \
  --set pretrain_episodes=3 --set eval_episodes=0 --out "$tmp/td" --no-progress >/dev/null
"$BIN" serve --policy "cartpole=$tmp/p.rlf" --policy "rnn=$tmp/rnn" --policy "td=$tmp/td" --port 0 --quiet \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
for i in $(seq 100); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1)
if [[ -z "$url" ]]; then echo "FAIL serve did not start: $(cat "$tmp/serve.err")"; fails=$((fails+1)); else
  served=$("$BIN" eval --policy "$url/v1/models/cartpole" --env CartPole-v1 --episodes 8 --seed 4 --json)
  local_=$("$BIN" eval --policy "$tmp/ppo" --episodes 8 --seed 4 --json)
  same=$(python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(a['mean_return']==b['mean_return'] and a['mean_length']==b['mean_length'])" "$served" "$local_")
  [[ "$same" == True ]] && echo "ok   served-eval-equals-local" || { echo "FAIL served eval differs: $served vs $local_"; fails=$((fails+1)); }
  served=$("$BIN" eval --policy "$url/v1/models/td" --env TowerDefense-v0 --kwarg ticks_per_step=4 --kwarg strict=true \
           --episodes 4 --seed 3 --json 2>&1)
  local_=$("$BIN" eval --policy "$tmp/td" --episodes 4 --seed 3 --json)
  same=$(python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(a['mean_return']==b['mean_return'] and a['mean_length']==b['mean_length'])" "$served" "$local_" 2>&1)
  [[ "$same" == True ]] && echo "ok   served-conditional-eval-equals-local" || { echo "FAIL served TowerDefense eval differs: $served vs $local_"; fails=$((fails+1)); }
  # Sampled through the server: legal on a strict game, the same for a seed.
  one=$("$BIN" eval --policy "$url/v1/models/td" --env TowerDefense-v0 --kwarg ticks_per_step=4 --kwarg strict=true \
        --episodes 2 --seed 5 --stochastic --json 2>&1)
  two=$("$BIN" eval --policy "$url/v1/models/td" --env TowerDefense-v0 --kwarg ticks_per_step=4 --kwarg strict=true \
        --episodes 2 --seed 5 --stochastic --json 2>&1)
  [[ "$one" == *'"mean_return"'* && "$one" == "$two" ]] && echo "ok   served-conditional-stochastic" || { echo "FAIL served stochastic TowerDefense: $one / $two"; fails=$((fails+1)); }
  check served-wrong-env 2 "takes 4 observation values" -- "$BIN" eval --policy "$url/v1/models/cartpole" --env Acrobot-v1 --episodes 1
  check served-recurrent 2 "model 'rnn' is recurrent" -- "$BIN" eval --policy "$url/v1/models/rnn" --env CartPoleNoVel-v1 --episodes 1
  check serve-port-in-use 1 "cannot listen on 127.0.0.1:${url##*:}" -- "$BIN" serve --policy "$tmp/p.rlf" --port "${url##*:}"
  check served-unknown-model 2 "has no model 'nope'" -- "$BIN" eval --policy "$url/v1/models/nope" --env CartPole-v1 --episodes 1
  # A server whose answers are damaged (the real one's model list, then
  # probabilities out of [0, 1], or none for a legal value): named errors.
  python3 -c "import urllib.request,sys; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1] + '/v1/models').read())" \
    "$url" "$tmp/models.json"
  for bad in huge negative zero; do
    python3 - "$tmp/models.json" "$bad" >"$tmp/fake.out" 2>/dev/null <<'PY' &
import http.server, json, sys
models = json.load(open(sys.argv[1]))
models["models"] = [m for m in models["models"] if m["name"] == "td"]
bad = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self): self.reply(models)
    def do_POST(self):
        n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["observations"])
        width = models["models"][0]["model"]["head"]["mask_size"]
        row = [1e39 if bad == "huge" else -0.5 if bad == "negative" else 0.0] * width
        self.reply({"outputs": [row] * n, "model": "td", "version": 1})
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.handle_request(); s.handle_request()
PY
    fpid=$!
    for i in $(seq 50); do [[ -s "$tmp/fake.out" ]] && break; sleep 0.1; done
    fport=$(head -1 "$tmp/fake.out")
    case $bad in
      huge) want="the policy server sent probability 1e+39 (row 0, output 0): not in [0, 1]" ;;
      negative) want="the policy server sent probability -0.5 (row 0, output 0): not in [0, 1]" ;;
      zero) want="the served probabilities give every legal value of action dimension 0 weight 0" ;;
    esac
    timeout 30 "$BIN" eval --policy "http://127.0.0.1:$fport" --env TowerDefense-v0 --kwarg ticks_per_step=4 \
      --episodes 1 >/dev/null 2>"$tmp/fake.err"
    code=$?
    [[ $code != 0 ]] && grep -qF "$want" "$tmp/fake.err" && echo "ok   served-damaged-$bad" || { echo "FAIL served-damaged-$bad: exit $code: $(cat "$tmp/fake.err")"; fails=$((fails+1)); }
    kill $fpid 2>/dev/null; wait $fpid 2>/dev/null
  done
  metrics=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1] + '/metrics').read().decode())" "$url")
  [[ "$metrics" == *'rlforge_requests_total{model="cartpole",code="200"}'* ]] && echo "ok   serve-metrics" || { echo "FAIL metrics: $metrics"; fails=$((fails+1)); }
fi
kill -TERM $spid
for i in $(seq 50); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
if kill -0 $spid 2>/dev/null; then echo "FAIL serve still running 5 s after SIGTERM"; kill -9 $spid; fails=$((fails+1)); else
  wait $spid; code=$?
  [[ $code == 0 ]] && echo "ok   serve-sigterm" || { echo "FAIL serve exit $code after SIGTERM"; fails=$((fails+1)); }
  [[ ! -s "$tmp/serve.err" ]] && echo "ok   serve-quiet" || { echo "FAIL --quiet wrote: $(cat "$tmp/serve.err")"; fails=$((fails+1)); }
fi
check serve-missing 2 "no such file or run directory" -- "$BIN" serve --policy "$tmp/nope.rlf" --port 0
check serve-bad-batch 2 "--max-batch must be in 1..65536" -- "$BIN" serve --policy "$tmp/p.rlf" --max-batch 0
check served-unreachable 2 "no rlforge server answers there" -- "$BIN" eval --policy http://127.0.0.1:1 --env CartPole-v1 --episodes 1
check serve-empty-name 2 "the model name before '=' is empty" -- "$BIN" serve --policy "=$tmp/p.rlf"
check serve-empty-path 2 "the path after '=' is empty (NAME=PATH)" -- "$BIN" serve --policy "x="
check bench-serve-binary-recurrent 2 "binary requests carry no state" -- "$BIN" bench serve --policy "$tmp/rnn" --binary --requests 10
check bench-serve 0 "batching serves" -- "$BIN" bench serve --policy "$tmp/ppo" --concurrency 1 --concurrency 4 --requests 200 --seconds 2

echo "$((fails)) failed"
[[ $fails -eq 0 ]]
