#!/usr/bin/env bash
# Distributed training through the real binary (docs/distributed.md): ranks
# are separate processes that rendezvous on loopback (and, as root, across a
# veth pair between two network namespaces this test makes and removes).
#   - 2-rank data-parallel PPO solves CartPole-v1 (as one process does);
#   - ranks whose configs differ, an agent that cannot run as a job, a port in
#     use and a peer that never comes each end with a one-line error, in time;
#   - kill -9 of a rank ends the whole job (no process left), the run resumes
#     from its last checkpoint as a job of the same size, and not otherwise;
#   - torchrun's agent-store convention (a store hosted by torch itself);
#   - two "hosts" in network namespaces train together over a real interface.
# Every process it starts is bounded by `timeout` and killed on exit.
set -u
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
WORK=$(mktemp -d /tmp/rlf_dist.XXXXXX)
NS0="rlf0_$$" NS1="rlf1_$$" VETH0="rlfa$$" VETH1="rlfb$$"
cleanup() {
  pkill -P $$ 2>/dev/null
  pkill -f -- "$WORK" 2>/dev/null
  ip netns del "$NS0" 2>/dev/null
  ip netns del "$NS1" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails+1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mean_return() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean_return"])' "$1"; }
# rank R of a job of 2 on PORT, with extra env: rank R PORT [VAR=VALUE...] -- args
rank() {
  local r="$1" port="$2"; shift 2
  local vars=()
  while [[ "$1" != "--" ]]; do vars+=("$1"); shift; done
  shift
  env "${vars[@]}" MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" WORLD_SIZE=2 RANK="$r" LOCAL_RANK="$r" \
    timeout 120 "$BIN" "$@"
}

# --- Many more ranks than cores are launched, with a warning; here each rank
# fails at once (an unknown agent) and the launcher reports it.
timeout 120 taskset -c 0 "$BIN" launch --nproc 5 -- train --algo nope --env CartPole-v1 >/dev/null 2>"$WORK/many.err"
c=$?
[[ $c != 0 ]] && grep -q "warning: --nproc 5 ranks where 1 core(s) are usable" "$WORK/many.err" &&
  ok "launch-oversubscribed-warns" || fail "launch-oversubscribed-warns: exit $c: $(head -3 "$WORK/many.err")"

# --- 2-rank PPO on CartPole-v1: the zoo's preset and budget, 4 envs per rank.
if timeout 300 "$BIN" launch --nproc 2 -- train --algo ppo --env CartPole-v1 --seed 0 --out "$WORK/ppo" \
     --no-progress >"$WORK/ppo.log" 2>&1; then
  r=$(mean_return "$WORK/ppo/eval.json")
  python3 -c "import sys; sys.exit(0 if $r >= 475 else 1)" && ok "ppo-2-ranks-solves-cartpole ($r)" ||
    fail "ppo-2-ranks-solves-cartpole: final evaluation $r < 475"
  # rank 0 alone wrote the run directory; the episodes of both ranks' envs were counted
  [[ $(grep -c "^trained ppo" "$WORK/ppo.log") == 1 ]] && ok "one-rank-reports" || fail "one-rank-reports: $(cat "$WORK/ppo.log")"
  # one process reads the job's checkpoint (its per-rank envs are not its own)
  timeout 60 "$BIN" eval --env CartPole-v1 --policy "$WORK/ppo" --episodes 5 --deterministic >"$WORK/eval.out" 2>&1 &&
    timeout 60 "$BIN" export "$WORK/ppo" --format rlf --out "$WORK/ppo.rlf" >>"$WORK/eval.out" 2>&1 &&
    ok "eval-and-export-a-job's-run" || fail "eval-and-export-a-job's-run: $(tail -2 "$WORK/eval.out")"
else
  fail "ppo-2-ranks: launch failed: $(tail -3 "$WORK/ppo.log")"
fi

# --- ranks whose configs differ: both stop, naming the difference.
port=$(free_port)
rank 0 "$port" -- train --algo ppo --env CartPole-v1 --seed 1 --steps 2048 --out "$WORK/mismatch" --no-progress \
  >/dev/null 2>"$WORK/m0.err" &
rank 1 "$port" -- train --algo ppo --env CartPole-v1 --seed 2 --steps 2048 --out "$WORK/mismatch" --no-progress \
  >/dev/null 2>"$WORK/m1.err"
c1=$?
wait $!; c0=$?
if [[ $c0 == 1 && $c1 == 1 ]] && grep -q "rank 1's config differs from rank 0's: seed (1 on rank 0, 2 on rank 1); every rank" \
     "$WORK/m0.err" && grep -q "^rlforge \[rank 1\]: error: distributed: rank 1's config" "$WORK/m1.err"; then
  ok "config-mismatch"
else
  fail "config-mismatch: exits $c0/$c1: $(cat "$WORK/m0.err" "$WORK/m1.err")"
fi

# --- an agent that does not train as a job.
timeout 60 "$BIN" launch --nproc 2 -- train --algo dqn --env CartPole-v1 --steps 1000 --out "$WORK/dqn" \
  >/dev/null 2>"$WORK/dqn.err"
c=$?
[[ $c == 2 ]] && grep -q "dqn does not train as a job of several ranks (WORLD_SIZE=2); the agents that do: ppo, recurrent-ppo, a2c" \
  "$WORK/dqn.err" && ok "unsupported-agent" || fail "unsupported-agent: exit $c: $(cat "$WORK/dqn.err")"

# --- a rollout too large for memory names each rank's share (it named 4 envs as num_envs).
timeout 60 "$BIN" launch --nproc 2 -- train --algo ppo --env CartPole-v1 --set n_steps=4000000000 --set num_envs=8 \
  --set batch_size=64 --steps 1000 --out "$WORK/mem" >/dev/null 2>"$WORK/mem.err"
c=$?
[[ $c == 2 ]] && grep -q "a rollout of n_steps 4000000000 x 4 envs on each of 2 ranks (config keys 'n_steps' and 'num_envs', 8) needs about" \
  "$WORK/mem.err" && ok "memory-message-in-a-job" || fail "memory-message-in-a-job: exit $c: $(cat "$WORK/mem.err")"

# --- a peer that never comes: rank 0 gives up after RLFORGE_DIST_TIMEOUT.
start=$(date +%s)
rank 0 "$(free_port)" RLFORGE_DIST_TIMEOUT=2 -- train --algo ppo --env CartPole-v1 --out "$WORK/alone" \
  --no-progress >/dev/null 2>"$WORK/alone.err"
c=$?
took=$(( $(date +%s) - start ))
[[ $c == 1 && $took -lt 30 ]] && grep -q "timed out after 2 s: 1 of 2 ranks joined" "$WORK/alone.err" &&
  ok "rendezvous-timeout (${took} s)" || fail "rendezvous-timeout: exit $c after $took s: $(cat "$WORK/alone.err")"

# --- the port is in use (another job's rank 0 holds it).
port=$(free_port)
rank 0 "$port" RLFORGE_DIST_TIMEOUT=20 -- train --algo ppo --env CartPole-v1 --out "$WORK/holder" --no-progress \
  >/dev/null 2>&1 &
holder=$!
sleep 1.5
rank 0 "$port" RLFORGE_DIST_TIMEOUT=5 -- train --algo ppo --env CartPole-v1 --out "$WORK/second" --no-progress \
  >/dev/null 2>"$WORK/port.err"
c=$?
pkill -f -- "--out $WORK/holder" 2>/dev/null; wait "$holder" 2>/dev/null
[[ $c == 1 ]] && grep -q "cannot host the rendezvous store on 127.0.0.1:$port: the port is in use" "$WORK/port.err" &&
  ok "port-in-use" || fail "port-in-use: exit $c: $(cat "$WORK/port.err")"

# The pid of rank R of the job training into RUN, once RUN has a checkpoint: the process whose command
# line names the run and whose environment says RANK=R.
rank_pid() {  # RUN R
  local p
  for _ in $(seq 1 300); do ls "$1"/checkpoints/step_*.pt >/dev/null 2>&1 && break; sleep 0.1; done
  for p in $(pgrep -f -- "--out $1"); do
    tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "RANK=$2" && echo "$p"
  done | tail -1
}

# --- kill -9 a rank: the job ends, no process is left, and it resumes.
timeout 300 "$BIN" launch --nproc 2 --grace 10 -- train --algo ppo --env CartPole-v1 --seed 4 --steps 400000 \
  --set checkpoint_interval=4096 --out "$WORK/killed" --no-progress >"$WORK/killed.log" 2>&1 &
launcher=$!
victim=$(rank_pid "$WORK/killed" 1)
if [[ -z "$victim" ]]; then
  fail "kill-a-rank: no rank 1 under the launcher"
else
  kill -9 "$victim"
  start=$(date +%s)
  wait "$launcher"; c=$?
  took=$(( $(date +%s) - start ))
  sleep 0.5
  left=$(pgrep -f -- "--out $WORK/killed" | wc -l)
  [[ $c != 0 && $took -lt 60 && $left == 0 ]] && grep -q "rank 1 was killed by signal 9" "$WORK/killed.log" &&
    ok "kill-a-rank-ends-the-job (exit $c after ${took} s)" ||
    fail "kill-a-rank: exit $c after $took s, $left left: $(tail -5 "$WORK/killed.log")"
  # Not as one process ...
  timeout 60 "$BIN" train --resume "$WORK/killed" --steps 20000 --no-progress >/dev/null 2>"$WORK/single.err"
  c=$?
  [[ $c == 2 ]] && grep -q "was written by a job of 2 ranks, not by one process" "$WORK/single.err" &&
    ok "resume-needs-the-same-ranks" || fail "resume-needs-the-same-ranks: exit $c: $(cat "$WORK/single.err")"
  # ... but as a job of 2, from the last checkpoint, to the end.
  steps=$(ls "$WORK"/killed/checkpoints/step_*.pt | sed 's/.*step_\([0-9]*\).pt/\1/' | sort -n | tail -1)
  if timeout 300 "$BIN" launch --nproc 2 -- train --resume "$WORK/killed" --steps $((steps + 8192)) --no-progress \
       >"$WORK/resumed.log" 2>&1 && [[ -f "$WORK/killed/eval.json" ]]; then
    ok "resume-after-kill (from step $steps)"
  else
    fail "resume-after-kill: $(tail -3 "$WORK/resumed.log")"
  fi
fi

# --- SIGTERM to the launcher: every rank stops at the same iteration, rank 0
# saves, and the resumed job logs exactly what the unbroken one did.
train_job() { timeout 300 "$BIN" launch --nproc 2 -- train --algo ppo --env CartPole-v1 --seed 5 --steps 60000 \
  --set eval_episodes=5 --no-progress "$@"; }
train_job --out "$WORK/whole" >/dev/null 2>&1
train_job --out "$WORK/broken" >"$WORK/broken.log" 2>&1 &
job=$!
for _ in $(seq 1 300); do [[ -f "$WORK/broken/progress.csv" && $(wc -l <"$WORK/broken/progress.csv") -gt 10 ]] && break; sleep 0.05; done
# As a terminal's Ctrl-C or `timeout` does: the signal reaches the launcher and every rank, and the
# launcher passes it on again (a late copy once killed ranks before they said where they saved).
pkill -TERM -f -- "--out $WORK/broken"
wait "$job"; c=$?
timeout 300 "$BIN" launch --nproc 2 -- train --resume "$WORK/broken" --no-progress >/dev/null 2>&1
# every column but the clocks (steps_per_second, time_elapsed, time_*); comm_bytes included (a resume's
# own traffic was counted in its first row)
metrics() { python3 -c "import csv,sys; r=list(csv.reader(open(sys.argv[1]))); k=[i for i,h in enumerate(r[0]) if not h.startswith('time_') and h != 'steps_per_second']; [print(','.join(row[i] for i in k)) for row in r]" "$1"; }
if [[ $c == 143 ]] && grep -q "continue with: a job of 2 ranks again: rlforge launch --nproc 2 -- train --resume" "$WORK/broken.log" &&
   [[ -f "$WORK/broken/eval.json" ]] && diff <(metrics "$WORK/whole/progress.csv") <(metrics "$WORK/broken/progress.csv") >/dev/null; then
  ok "sigterm-and-exact-resume ($(ls "$WORK"/broken/checkpoints | tr '\n' ' '))"
else
  fail "sigterm-and-exact-resume: exit $c: $(cat "$WORK/broken.log"); $(ls "$WORK/broken/checkpoints"); $(wc -l <"$WORK/broken/progress.csv") rows; $(diff <(metrics "$WORK/whole/progress.csv") <(metrics "$WORK/broken/progress.csv") | head -4)"
fi

# --- IMPALA: two actor processes feed the learner (rank 0) through the store.
if timeout 300 "$BIN" launch --nproc 3 -- train --algo impala --env CartPole-v1 --seed 0 --set num_actors=0 \
     --out "$WORK/impala" --no-progress >"$WORK/impala.log" 2>&1; then
  r=$(mean_return "$WORK/impala/eval.json")
  python3 -c "import sys; sys.exit(0 if $r >= 475 else 1)" && ok "impala-2-actor-processes ($r)" ||
    fail "impala-2-actor-processes: final evaluation $r < 475"
else
  fail "impala-2-actor-processes: $(tail -3 "$WORK/impala.log")"
fi

# --- a rank that stalls (SIGSTOP): its peer times out and says which checkpoint to resume from (a timed-out
# collective outside the agent's iteration gave no resume hint).
RLFORGE_DIST_TIMEOUT=5 timeout 120 "$BIN" launch --nproc 2 --grace 3 -- train --algo ppo --env CartPole-v1 --seed 4 \
  --steps 400000 --set checkpoint_interval=4096 --out "$WORK/stalled" --no-progress >"$WORK/stalled.log" 2>&1 &
launcher=$!
victim=$(rank_pid "$WORK/stalled" 1)
if [[ -z "$victim" ]]; then
  fail "stalled-rank: no rank 1 under the launcher"
else
  kill -STOP "$victim"
  wait "$launcher"; c=$?
  kill -9 "$victim" 2>/dev/null; kill -CONT "$victim" 2>/dev/null
  [[ $c != 0 ]] && grep -q "timed out.*; the last checkpoint, .*stalled/checkpoints/step_[0-9]*.pt, is kept (.*--resume" \
    "$WORK/stalled.log" && ok "stalled-rank-names-the-checkpoint" ||
    fail "stalled-rank: exit $c: $(tail -4 "$WORK/stalled.log")"
fi

# --- IMPALA: an actor dies (kill -9) and another joins late; the learner goes on.
port=$(free_port)
impala_rank() {  # rank [VAR=VALUE...] -- extra train args
  local r="$1"; shift
  local vars=()
  while [[ "$1" != "--" ]]; do vars+=("$1"); shift; done
  shift
  env "${vars[@]}" MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" WORLD_SIZE=3 RANK="$r" timeout 120 "$BIN" train \
    --algo impala --env "${IMPALA_ENV:-CartPole-v1}" --seed 1 --steps 150000 --set num_actors=0 --out "$WORK/elastic" \
    --no-progress "$@"
}
impala_rank 0 -- >"$WORK/learner.log" 2>&1 &
learner=$!
impala_rank 1 -- >/dev/null 2>&1 &
first=$!
for _ in $(seq 1 200); do [[ -f "$WORK/elastic/progress.csv" && $(wc -l <"$WORK/elastic/progress.csv") -gt 50 ]] && break; sleep 0.05; done
{ kill -9 "$first"; wait "$first"; } 2>/dev/null
sleep 1
impala_rank 2 -- >/dev/null 2>&1 &
late=$!
wait "$learner"; c=$?
wait "$late"; cl=$?
actors=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="actors") k=i} END{print $k}' "$WORK/elastic/progress.csv" 2>/dev/null)
[[ $c == 0 && $cl == 0 && -f "$WORK/elastic/eval.json" && "$actors" == "2" ]] &&
  ok "impala-actor-dies-and-one-joins-late" ||
  fail "impala-actor-dies-and-one-joins-late: learner $c, late actor $cl, actors '$actors': $(tail -2 "$WORK/learner.log")"

# --- IMPALA under launch --elastic: an actor rank dies and the job goes on.
timeout 300 "$BIN" launch --nproc 3 --elastic -- train --algo impala --env CartPole-v1 --seed 2 --steps 150000 \
  --set num_actors=0 --out "$WORK/elastic2" --no-progress >"$WORK/elastic2.log" 2>&1 &
job=$!
for _ in $(seq 1 200); do [[ -f "$WORK/elastic2/progress.csv" && $(wc -l <"$WORK/elastic2/progress.csv") -gt 50 ]] && break; sleep 0.05; done
for p in $(pgrep -f -- "--out $WORK/elastic2"); do
  tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "RANK=2" && kill -9 "$p"
done
wait "$job"; c=$?
[[ $c == 0 && -f "$WORK/elastic2/eval.json" ]] && grep -q "rank 2 was killed by signal 9 (Killed); --elastic: the job goes on" \
  "$WORK/elastic2.log" && ok "impala-elastic-launch-survives-an-actor" ||
  fail "impala-elastic-launch-survives-an-actor: exit $c: $(tail -3 "$WORK/elastic2.log")"

# --- kill -9 of the launcher: its ranks are told (SIGTERM) and stop; none is left.
timeout 300 "$BIN" launch --nproc 2 -- train --algo ppo --env CartPole-v1 --steps 400000 --out "$WORK/orphans" \
  --no-progress >/dev/null 2>&1 &
orphans=$!
for _ in $(seq 1 200); do [[ -f "$WORK/orphans/progress.csv" ]] && break; sleep 0.05; done
pkill -9 -f -- "^$BIN launch --nproc 2 -- train .*--out $WORK/orphans"
for _ in $(seq 1 100); do [[ $(pgrep -f -- "--out $WORK/orphans" | wc -l) == 0 ]] && break; sleep 0.1; done
left=$(pgrep -f -- "--out $WORK/orphans" | wc -l)
wait "$orphans" 2>/dev/null
[[ $left == 0 ]] && ok "launcher-killed-leaves-no-rank" || fail "launcher-killed-leaves-no-rank: $left left"

# --- IMPALA: SIGTERM to a learner waiting for unrolls saves a checkpoint and exits at once (it used to
# wait out RLFORGE_DIST_TIMEOUT and save nothing).
port=$(free_port)
rm -rf "$WORK/elastic"
impala_rank 0 RLFORGE_DIST_TIMEOUT=60 -- >/dev/null 2>"$WORK/waiting.err" &
learner=$!
for _ in $(seq 1 100); do [[ -f "$WORK/elastic/config.yaml" ]] && break; sleep 0.1; done
sleep 1
start=$(date +%s)
pkill -TERM -f -- "^$BIN train .*--out $WORK/elastic"
wait "$learner"; c=$?
took=$(( $(date +%s) - start ))
[[ $c == 143 && $took -lt 20 && -f "$WORK/elastic/checkpoints/step_0.pt" ]] && grep -q "interrupted by SIGTERM at step 0" "$WORK/waiting.err" &&
  ok "impala-learner-stops-while-waiting (${took} s)" ||
  fail "impala-learner-stops-while-waiting: exit $c after $took s: $(cat "$WORK/waiting.err")"

# --- IMPALA: a learner with no actor gives up in time; an actor of another env is refused.
port=$(free_port)
rm -rf "$WORK/elastic"
start=$(date +%s)
impala_rank 0 RLFORGE_DIST_TIMEOUT=2 -- >/dev/null 2>"$WORK/noactor.err"
c=$?
took=$(( $(date +%s) - start ))
[[ $c == 1 && $took -lt 30 ]] && grep -q "no unroll arrived for 2 s: no actor is running" "$WORK/noactor.err" &&
  ok "impala-no-actor (${took} s)" || fail "impala-no-actor: exit $c after $took s: $(cat "$WORK/noactor.err")"
port=$(free_port)
rm -rf "$WORK/elastic"
impala_rank 0 RLFORGE_DIST_TIMEOUT=5 -- >/dev/null 2>&1 &
learner=$!
IMPALA_ENV=Acrobot-v1 impala_rank 1 -- >/dev/null 2>"$WORK/other.err"
c=$?
kill "$learner" 2>/dev/null; wait "$learner" 2>/dev/null
[[ $c == 2 ]] && grep -q "this actor's Acrobot-v1 .* differs from the learner's CartPole-v1" "$WORK/other.err" &&
  ok "impala-mismatched-actor" || fail "impala-mismatched-actor: exit $c: $(cat "$WORK/other.err")"

# --- torchrun's agent-store convention, with a store hosted by PyTorch itself.
if /usr/bin/python3 -c "import torch.distributed" 2>/dev/null; then
  port=$(free_port)
  timeout 60 /usr/bin/python3 -c "
import time, torch.distributed as d
s = d.TCPStore('127.0.0.1', $port, 3, True)
time.sleep(50)" &
  store=$!
  sleep 2
  rank 0 "$port" TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=0 -- train --algo a2c \
    --env CartPole-v1 --steps 5000 --out "$WORK/agent" --no-progress >/dev/null 2>"$WORK/a0.err" &
  rank 1 "$port" TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=0 -- train --algo a2c \
    --env CartPole-v1 --steps 5000 --out "$WORK/agent" --no-progress >/dev/null 2>"$WORK/a1.err"
  c1=$?
  wait $!; c0=$?
  kill "$store" 2>/dev/null; wait "$store" 2>/dev/null
  [[ $c0 == 0 && $c1 == 0 && -f "$WORK/agent/eval.json" ]] && ok "torchrun-agent-store (a2c)" ||
    fail "torchrun-agent-store: exits $c0/$c1: $(cat "$WORK/a0.err" "$WORK/a1.err")"
else
  echo "skip torchrun-agent-store: /usr/bin/python3 has no torch.distributed"
fi

# --- two hosts: network namespaces joined by a veth pair (root only).
if ip netns add "$NS0" 2>/dev/null && ip netns add "$NS1" 2>/dev/null &&
   ip link add "$VETH0" type veth peer name "$VETH1" 2>/dev/null; then
  ip link set "$VETH0" netns "$NS0" && ip link set "$VETH1" netns "$NS1"
  ip -n "$NS0" addr add 10.231.0.1/24 dev "$VETH0" && ip -n "$NS1" addr add 10.231.0.2/24 dev "$VETH1"
  for ns in "$NS0" "$NS1"; do ip -n "$ns" link set lo up; done
  ip -n "$NS0" link set "$VETH0" up && ip -n "$NS1" link set "$VETH1" up
  # Host 0 names its interface (GLOO_SOCKET_IFNAME, as in PyTorch); host 1 does not, and its ranks bind
  # to the address on their route to MASTER_ADDR.
  host() {  # ns ifname node_rank
    local ns="$1" ifn="$2" node="$3"
    GLOO_SOCKET_IFNAME="$ifn" timeout 300 ip netns exec "$ns" "$BIN" launch --nproc 1 --nnodes 2 --node-rank "$node" \
      --master 10.231.0.1:29400 -- train --algo ppo --env CartPole-v1 --seed 0 --steps 50000 \
      --out "$WORK/hosts" --no-progress
  }
  host "$NS0" "$VETH0" 0 >"$WORK/h0.log" 2>&1 &
  h0=$!
  host "$NS1" "" 1 >"$WORK/h1.log" 2>&1
  c1=$?
  wait "$h0"; c0=$?
  bytes=$(ip netns exec "$NS1" cat /sys/class/net/"$VETH1"/statistics/tx_bytes)
  [[ $c0 == 0 && $c1 == 0 && -f "$WORK/hosts/eval.json" && $bytes -gt 1000000 ]] &&
    ok "two-hosts-over-veth ($bytes bytes sent by host 1, return $(mean_return "$WORK/hosts/eval.json"))" ||
    fail "two-hosts-over-veth: exits $c0/$c1, $bytes bytes: $(tail -3 "$WORK/h0.log" "$WORK/h1.log")"
else
  echo "skip two-hosts-over-veth: cannot make network namespaces here (needs root)"
fi

[[ $fails == 0 ]] && echo "all distributed tests passed" || echo "$fails distributed test(s) failed"
exit $(( fails > 0 ))
