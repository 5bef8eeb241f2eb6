#!/usr/bin/env bash
# The offline workflow from the command line: record -> inspect -> train
# bc/cql/iql -> eval/export, warm starts, and one-line errors with the right
# exit codes for bad input (docs/offline.md).
set -u
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"  # absolute: one check runs from another directory
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() {  # name expected_code expected_stderr_substring -- command...
  local name="$1" want="$2" needle="$3"; shift 4
  local code err
  "$@" >"$tmp/out" 2>"$tmp/err"; code=$?; err=$(cat "$tmp/err")
  if [[ "$code" != "$want" ]]; then echo "FAIL $name: exit $code, want $want; stderr: $err"; fails=$((fails+1)); return; fi
  if [[ -n "$needle" && "$err" != *"$needle"* ]]; then echo "FAIL $name: stderr lacks '$needle': $err"; fails=$((fails+1)); return; fi
  if [[ "$want" == 2 && $(printf '%s' "$err" | wc -l) -gt 0 ]]; then echo "FAIL $name: error is not one line: $err"; fails=$((fails+1)); return; fi
  if [[ "$want" == 2 && -s "$tmp/out" ]]; then echo "FAIL $name: stdout on error: $(cat "$tmp/out")"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}

# record
check record-ok 0 "" -- "$BIN" record --env CartPole-v1 --policy random --episodes 30 --seed 1 --ref-max-score 500 --out "$tmp/cp"
check record-no-out 2 "--out DIR is required" -- "$BIN" record --env CartPole-v1
check record-epsilon 2 "--epsilon must be in [0, 1]" -- "$BIN" record --env CartPole-v1 --epsilon 2 --out "$tmp/x"
check record-exists 2 "already holds a dataset" -- "$BIN" record --env CartPole-v1 --out "$tmp/cp"
check record-two-player 2 "multi-player game" -- "$BIN" record --env TicTacToe-v0 --out "$tmp/ttt"
check record-pixels 0 "" -- "$BIN" record --env TowerDefense-v0 --kwarg obs_mode=pixels --kwarg max_ticks=60 --policy random --episodes 2 --num-envs 1 --out "$tmp/px"
check inspect-pixels 0 "" -- "$BIN" inspect "$tmp/px" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); a=d["accuracy"]; assert a["replayed"]>=1 and a["mismatches"]==0, a' "$tmp/out" \
  && echo "ok   inspect-pixels-replays" || { echo "FAIL inspect-pixels-replays: $(head -c 300 "$tmp/out")"; fails=$((fails+1)); }
check record-cap-on-limited-env 2 "--max-episode-steps caps envs without a step limit; CartPole-v1 has its own" -- "$BIN" record --env CartPole-v1 --max-episode-steps 20 --out "$tmp/capped"
check record-ref-min-alone 2 "--ref-min-score needs a maximum" -- "$BIN" record --env CartPole-v1 --ref-min-score 0 --out "$tmp/y"
[[ ! -e "$tmp/x" && ! -e "$tmp/y" && ! -e "$tmp/capped" ]] && echo "ok   record-errors-write-nothing" || { echo "FAIL record errors left files"; fails=$((fails+1)); }
check record-td 0 "" -- "$BIN" record --env TowerDefense-v0 --policy heuristic --episodes 4 --epsilon 0.05 --out "$tmp/td"
check record-one-action 0 "" -- "$BIN" record --env LunarLander-v3 --policy heuristic --episodes 2 --out "$tmp/ll"

# inspect
check inspect-ok 0 "" -- "$BIN" inspect "$tmp/cp" --plot "$tmp/cp.png"
grep -q "flags: none" "$tmp/out" && [[ -s "$tmp/cp.png" ]] && echo "ok   inspect-clean" || { echo "FAIL inspect-clean: $(cat "$tmp/out")"; fails=$((fails+1)); }
check inspect-json 0 "" -- "$BIN" inspect "$tmp/cp" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["episodes"]==30 and d["flags"]==[] and d["score"]["ref_max_score"]==500' "$tmp/out" \
  && echo "ok   inspect-json-keys" || { echo "FAIL inspect-json-keys"; fails=$((fails+1)); }
check inspect-missing 2 "does not exist" -- "$BIN" inspect "$tmp/nope"
# A FIFO for a dataset file blocked inspect until killed; a plot that cannot be written failed (exit 1) after the report.
mkdir -p "$tmp/fifo_ds" && mkfifo "$tmp/fifo_ds/metadata.json"
check inspect-fifo 2 "metadata.json is not a regular file" -- timeout 20 "$BIN" inspect "$tmp/fifo_ds"
check inspect-plot-nowhere 2 "--plot $tmp/none/x.png: no directory $tmp/none" -- "$BIN" inspect "$tmp/cp" --plot "$tmp/none/x.png"
# Minari's own root of a dataset holds it in data/: said.
mkdir -p "$tmp/minari_root/data" && cp "$tmp/cp/metadata.json" "$tmp/minari_root/data/"
check inspect-minari-root 2 "has no metadata.json, but its data/ directory has: give $tmp/minari_root/data" -- "$BIN" inspect "$tmp/minari_root"
mkdir -p "$tmp/notjson" && echo '{"observation_space": ' > "$tmp/notjson/metadata.json"
check inspect-bad-json 2 "not valid JSON" -- "$BIN" inspect "$tmp/notjson"
# A damaged copy: one episode's rewards replaced by NaN (through Python's h5py
# when it is there; else the check is skipped).
cp -r "$tmp/cp" "$tmp/cpnan"
if python3 -c 'import h5py' 2>/dev/null; then
  python3 - "$tmp/cpnan/main_data.hdf5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    f["episode_3/rewards"][1] = np.nan
PY
  check inspect-strict-nan 1 "flag(s) (--strict)" -- "$BIN" inspect "$tmp/cpnan" --strict
  grep -q "FLAG non_finite" "$tmp/out" && echo "ok   inspect-flags-nan" || { echo "FAIL inspect-flags-nan"; fails=$((fails+1)); }
  check train-nan-dataset 2 ": episode 3, step 1: the reward is nan (rlforge inspect counts the non-finite values)" -- "$BIN" train --algo bc --dataset "$tmp/cpnan" --steps 10 --out "$tmp/nanrun"
fi

# Early stopping with nothing held out is refused (it ran every iteration silently).
check record-one-episode 0 "" -- "$BIN" record --env CartPole-v1 --policy random --episodes 1 --out "$tmp/one"
check bc-patience-nothing-held-out 2 "config key 'early_stopping_patience' needs held-out episodes, and holdout_fraction 0.1 of dataset $tmp/one's episodes holds out none" -- "$BIN" train --algo bc --dataset "$tmp/one" --set early_stopping_patience=2 --steps 10 --out "$tmp/bcone"
# A run made before that refusal still resumes (its config.yaml cannot change), saying so.
check bc-one-episode 0 "" -- "$BIN" train --algo bc --dataset "$tmp/one" --steps 20 --set updates_per_iteration=10 --set eval_episodes=1 --out "$tmp/bcold" --no-progress
sed -i 's/^early_stopping_patience: 0/early_stopping_patience: 2/' "$tmp/bcold/config.yaml"
check bc-old-run-resumes 0 "warning: config key 'early_stopping_patience' needs held-out episodes" -- "$BIN" train --resume "$tmp/bcold" --steps 40 --no-progress

# train
check bc-no-dataset 2 "config key 'dataset' is required" -- "$BIN" train --algo bc --env CartPole-v1 --out "$tmp/r0"
check ppo-dataset 2 "ppo takes no dataset" -- "$BIN" train --algo ppo --dataset "$tmp/cp" --out "$tmp/r1"
check bc-wrong-env 2 "but the env has" -- "$BIN" train --algo bc --dataset "$tmp/cp" --env Acrobot-v1 --steps 10 --out "$tmp/r3"
check bc-ok 0 "" -- "$BIN" train --algo bc --dataset "$tmp/cp" --steps 200 --set updates_per_iteration=100 --set eval_episodes=3 --out "$tmp/bc" --no-progress
[[ -f "$tmp/bc/eval.json" && -f "$tmp/bc/bc_report.json" ]] && grep -q holdout_accuracy "$tmp/bc/progress.csv" \
  && echo "ok   bc-run-directory" || { echo "FAIL bc-run-directory"; fails=$((fails+1)); }
check iql-td-ok 0 "" -- "$BIN" train --algo iql --dataset "$tmp/td" --steps 20 --set updates_per_iteration=10 --set batch_size=32 --set eval_episodes=1 --out "$tmp/iqltd" --no-progress
check cql-td-ok 0 "" -- "$BIN" train --algo cql --dataset "$tmp/td" --steps 20 --set updates_per_iteration=10 --set batch_size=32 --set net_arch=[16] --set eval_episodes=1 --out "$tmp/cqltd" --no-progress
check cql-td-export 0 "" -- "$BIN" export "$tmp/cqltd" --format rlf --out "$tmp/cqltd.rlf" --check 50 --describe
grep -q "\"kind\": \"multi_categorical\"" "$tmp/out" && echo "ok   cql-td-export-head" || { echo "FAIL cql-td-export-head"; fails=$((fails+1)); }
check cql-ok 0 "" -- "$BIN" train --algo cql --dataset "$tmp/cp" --steps 20 --set updates_per_iteration=10 --set net_arch=[16] --set eval_episodes=1 --out "$tmp/cql" --no-progress
check bc-eval 0 "" -- "$BIN" eval --policy "$tmp/bc" --episodes 3
check bc-export 0 "" -- "$BIN" export "$tmp/bc" --format rlf --out "$tmp/bc.rlf" --check 50
check bc-resume-done 2 "is complete" -- "$BIN" train --resume "$tmp/bc"

# warm starts
check ppo-from-bc 0 "copied 12 parameter tensors" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/bc" --steps 512 --set n_steps=64 --set eval_episodes=2 --out "$tmp/ppo"
check ppo-from-cql 2 "no parameter of cql's network fits" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/cql" --steps 512 --out "$tmp/ppo2"
check init-from-missing 2 "does not exist" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/none" --out "$tmp/ppo3"
check dqn-from-cql 0 "warm start from" -- "$BIN" train --algo dqn --env CartPole-v1 --init-from "$tmp/cql" --set net_arch=[16] --steps 200 --set learning_starts=100 --set eval_episodes=1 --out "$tmp/dqn"
check dqn-replay-dataset 0 "" -- "$BIN" train --algo dqn --env CartPole-v1 --set replay_dataset="$tmp/cp" --set learning_starts=0 --set net_arch=[16] --steps 200 --set eval_episodes=1 --out "$tmp/dqnr" --no-progress
check dqn-replay-wrong-env 2 "replay_dataset" -- "$BIN" train --algo dqn --env Acrobot-v1 --set replay_dataset="$tmp/cp" --steps 200 --out "$tmp/dqnr2" --no-progress

# Box actions: cql on SAC's networks, exported, and SAC continuing from it
check record-pendulum 0 "" -- "$BIN" record --env Pendulum-v1 --policy random --episodes 3 --out "$tmp/pend"
check cql-box-ok 0 "" -- "$BIN" train --algo cql --dataset "$tmp/pend" --steps 20 --set updates_per_iteration=10 --set net_arch=[16] --set batch_size=32 --set n_action_samples=2 --set eval_episodes=1 --out "$tmp/cqlbox" --no-progress
grep -q cql_regularizer "$tmp/cqlbox/progress.csv" && grep -q ent_coef "$tmp/cqlbox/progress.csv" \
  && echo "ok   cql-box-metrics" || { echo "FAIL cql-box-metrics"; fails=$((fails+1)); }
check cql-box-export 0 "" -- "$BIN" export "$tmp/cqlbox" --format rlf --out "$tmp/cqlbox.rlf" --check 20
check cql-box-lagrange-ok 0 "" -- "$BIN" train --algo cql --dataset "$tmp/pend" --steps 20 --set updates_per_iteration=10 --set net_arch=[16] --set batch_size=32 --set n_action_samples=2 --set eval_episodes=1 --set alpha_learning_rate=1e-3 --set alpha_threshold=0 --set deterministic_backup=true --out "$tmp/cqllag" --no-progress
grep -q cql_alpha "$tmp/cqllag/progress.csv" && echo "ok   cql-box-lagrange-metric" || { echo "FAIL cql-box-lagrange-metric"; fails=$((fails+1)); }
check cql-huge-alpha-lr 2 "config key 'alpha_learning_rate' must be in [0, 1e3]" -- "$BIN" train --algo cql --dataset "$tmp/pend" --set alpha_learning_rate=1e300 --steps 10 --out "$tmp/cqlhuge" --no-progress
check cql-huge-threshold 2 "config key 'alpha_threshold' must be in" -- "$BIN" train --algo cql --dataset "$tmp/cp" --set alpha_learning_rate=1e-3 --set alpha_threshold=1e300 --steps 10 --out "$tmp/cqlhuget" --no-progress
check cql-box-negative-alpha-lr 2 "alpha_learning_rate" -- "$BIN" train --algo cql --dataset "$tmp/pend" --set alpha_learning_rate=-1 --steps 10 --out "$tmp/cqlneg" --no-progress
check cql-box-two-backups 2 "exclude each other" -- "$BIN" train --algo cql --dataset "$tmp/pend" --set soft_q_backup=true --set deterministic_backup=true --steps 10 --out "$tmp/cqlbb" --no-progress
check cql-threshold-without-lr 2 "takes effect only with alpha_learning_rate" -- "$BIN" train --algo cql --dataset "$tmp/pend" --set alpha_threshold=3 --steps 10 --out "$tmp/cqlthr" --no-progress
check cql-discrete-threshold-zero 2 "alpha_threshold' must be > 0" -- "$BIN" train --algo cql --dataset "$tmp/cp" --set alpha_learning_rate=1e-3 --steps 10 --out "$tmp/cqlt0" --no-progress
check cql-box-keys-on-discrete 2 "config key soft_q_backup is for Box actions" -- "$BIN" train --algo cql --dataset "$tmp/cp" --set soft_q_backup=true --steps 10 --out "$tmp/cqlx" --no-progress
check sac-from-cql 0 "copied 12 parameter tensors" -- "$BIN" train --algo sac --env Pendulum-v1 --init-from "$tmp/cqlbox" --set net_arch=[16] --set replay_dataset="$tmp/pend" --set learning_starts=0 --steps 300 --set eval_episodes=1 --out "$tmp/sacft"
check sac-from-cql-no-progress 0 "copied 12 parameter tensors" -- "$BIN" train --algo sac --env Pendulum-v1 --init-from "$tmp/cqlbox" --set net_arch=[16] --set replay_dataset="$tmp/pend" --set learning_starts=0 --steps 300 --set eval_episodes=1 --out "$tmp/sacft2" --no-progress
check sac-replay-too-big 2 "more than the replay holds" -- "$BIN" train --algo sac --env Pendulum-v1 --set replay_dataset="$tmp/pend" --set buffer_size=100 --set batch_size=32 --steps 300 --out "$tmp/sacbig" --no-progress

# Reference scores that cannot normalize are refused before anything is recorded.
check record-ref-nan 2 "reference scores must be finite with the maximum above the minimum" -- "$BIN" record --env CartPole-v1 --episodes 2 --ref-max-score nan --out "$tmp/rn"
check record-ref-equal 2 "got min 10, max 10" -- "$BIN" record --env CartPole-v1 --episodes 2 --ref-min-score 10 --ref-max-score 10 --out "$tmp/re"
[[ ! -e "$tmp/rn" && ! -e "$tmp/re" ]] && echo "ok   record-ref-errors-write-nothing" || { echo "FAIL bad reference scores left a dataset"; fails=$((fails+1)); }
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["dataset_size"] > 0, m["dataset_size"]' "$tmp/cp/metadata.json" \
  && echo "ok   metadata-dataset-size" || { echo "FAIL metadata dataset_size: $(grep -o '"dataset_size": *[0-9.]*' "$tmp/cp/metadata.json")"; fails=$((fails+1)); }

# A resume that cannot train (its dataset moved) changes nothing in the run;
# --steps at or below what was trained is refused.
check bc-ckpt 0 "" -- "$BIN" train --algo bc --dataset "$tmp/cp" --steps 200 --set updates_per_iteration=100 --set checkpoint_interval=100 --set eval_episodes=1 --out "$tmp/bcr" --no-progress
mv "$tmp/cp" "$tmp/cp-moved"
check resume-no-dataset 2 "does not exist" -- "$BIN" train --resume "$tmp/bcr" --steps 300
mv "$tmp/cp-moved" "$tmp/cp"
grep -q "^total_steps: 200 " "$tmp/bcr/config.yaml" && [[ -e "$tmp/bcr/eval.json" ]] && echo "ok   failed-resume-changes-nothing" || { echo "FAIL a failed resume changed the run: $(grep total_steps "$tmp/bcr/config.yaml"), $(ls "$tmp/bcr")"; fails=$((fails+1)); }
check resume-fewer-steps 2 "--steps 100 is below the 200 steps" -- "$BIN" train --resume "$tmp/bcr" --steps 100
# A run that lacks only its final evaluation is finished with the env alone
# (its dataset may have moved), also with --steps equal to what it trained.
rm "$tmp/bcr/eval.json"; mv "$tmp/cp" "$tmp/cp-moved"
check resume-finish-without-dataset 0 "" -- "$BIN" train --resume "$tmp/bcr" --steps 200 --no-progress
mv "$tmp/cp-moved" "$tmp/cp"
[[ -e "$tmp/bcr/eval.json" ]] && echo "ok   finished-eval-json" || { echo "FAIL no eval.json after finishing"; fails=$((fails+1)); }

# Path keys are stored absolute however they are given (here --set, from the dataset's directory).
(cd "$tmp" && "$BIN" train --algo bc --env CartPole-v1 --set dataset=cp --steps 100 --set updates_per_iteration=100 --set eval_episodes=1 --out bcrel --no-progress >/dev/null 2>"$tmp/bcrel.err")
grep -q "^dataset: $tmp/cp " "$tmp/bcrel/config.yaml" && echo "ok   set-dataset-stored-absolute" || { echo "FAIL dataset path: $(grep ^dataset "$tmp/bcrel/config.yaml"; cat "$tmp/bcrel.err")"; fails=$((fails+1)); }

# --env naming the dataset's own env keeps the kwargs it was recorded with.
check record-frozen 0 "" -- "$BIN" record --env FrozenLake-v1 --kwarg is_slippery=false --episodes 10 --out "$tmp/fl"
check iql-frozen 0 "" -- "$BIN" train --algo iql --dataset "$tmp/fl" --env FrozenLake-v1 --steps 20 --set updates_per_iteration=10 --set eval_episodes=1 --out "$tmp/iqlfl" --no-progress
grep -q "^env_kwargs: {is_slippery: false}" "$tmp/iqlfl/config.yaml" && echo "ok   same-env-keeps-dataset-kwargs" || { echo "FAIL env_kwargs: $(grep -A2 env_kwargs "$tmp/iqlfl/config.yaml")"; fails=$((fails+1)); }
# The dataset gives the env and its kwargs however `dataset` is set: --set and
# a config file's key too (they trained on slippery ice, or asked for --env).
check set-dataset-gives-env 0 "" -- "$BIN" train --algo bc --set dataset="$tmp/fl" --steps 20 --set updates_per_iteration=10 --set eval_episodes=1 --out "$tmp/bcfl" --no-progress
grep -q "^env_kwargs: {is_slippery: false}" "$tmp/bcfl/config.yaml" && grep -q "^env: FrozenLake-v1" "$tmp/bcfl/config.yaml" && echo "ok   set-dataset-keeps-kwargs" || { echo "FAIL --set dataset: $(grep -E '^env' "$tmp/bcfl/config.yaml")"; fails=$((fails+1)); }
printf 'algo: bc\ndataset: %s\nupdates_per_iteration: 10\neval_episodes: 1\n' "$tmp/fl" > "$tmp/bcfl.yaml"
check config-dataset-gives-env 0 "" -- "$BIN" train --config "$tmp/bcfl.yaml" --steps 20 --out "$tmp/bcfl2" --no-progress
grep -q "^env_kwargs: {is_slippery: false}" "$tmp/bcfl2/config.yaml" && echo "ok   config-dataset-keeps-kwargs" || { echo "FAIL config dataset: $(grep -E '^env' "$tmp/bcfl2/config.yaml")"; fails=$((fails+1)); }
check set-dataset-kwargs-overridden 0 "" -- "$BIN" train --algo bc --set dataset="$tmp/fl" --set 'env_kwargs={is_slippery: true}' --steps 20 --set updates_per_iteration=10 --set eval_episodes=1 --out "$tmp/bcfl3" --no-progress
grep -q "^env_kwargs: {is_slippery: true}" "$tmp/bcfl3/config.yaml" && echo "ok   env-kwargs-override-the-datasets" || { echo "FAIL override: $(grep -E '^env' "$tmp/bcfl3/config.yaml")"; fails=$((fails+1)); }
# Another env with the same spaces trains, and says whose data it is.
check dataset-of-another-env 0 "warning: dataset $tmp/cp was recorded in CartPole-v1; the run trains and evaluates in CartPoleNoVel-v1 (--env)" -- "$BIN" train --algo bc --dataset "$tmp/cp" --env CartPoleNoVel-v1 --steps 20 --set updates_per_iteration=10 --set eval_episodes=1 --out "$tmp/bcnovel" --no-progress

# Warm starts refuse what would leave the network mostly random or mean nothing.
check ppo-from-bc-other-arch 2 "the same names have other shapes" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/bc" --set net_arch=[128,128] --steps 512 --out "$tmp/ppo4"
check ppo-from-bc-other-env 2 "a warm start needs the same spaces" -- "$BIN" train --algo ppo --env Acrobot-v1 --init-from "$tmp/bc" --steps 512 --out "$tmp/ppo5"
check rppo-from-bc 2 "network is of another kind" -- "$BIN" train --algo recurrent-ppo --env CartPole-v1 --init-from "$tmp/bc" --steps 512 --out "$tmp/rppo"
check ppo-from-bc-other-activation 2 "set activation=tanh" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/bc" --set activation=relu --steps 512 --out "$tmp/ppo6"

if [[ $fails -gt 0 ]]; then echo "$fails check(s) failed"; exit 1; fi
echo "all offline CLI checks passed"
