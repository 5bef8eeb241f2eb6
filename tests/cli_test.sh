#!/usr/bin/env bash
# CLI contract tests: exit codes, one-line errors naming the problem and the
# valid choices, JSON output, and that nothing is printed to stdout on error.
set -u
BIN="$1"
fails=0
check() {  # name expected_code expected_stderr_substring -- command...
  local name="$1" want="$2" needle="$3"; shift 4
  local out err code
  out=$("$@" 2>/tmp/rlf_cli_err); code=$?; err=$(cat /tmp/rlf_cli_err)
  if [[ "$code" != "$want" ]]; then echo "FAIL $name: exit $code, want $want; stderr: $err"; fails=$((fails+1)); return; fi
  if [[ -n "$needle" && "$err" != *"$needle"* ]]; then echo "FAIL $name: stderr lacks '$needle': $err"; fails=$((fails+1)); return; fi
  if [[ "$want" == 2 && $(printf '%s' "$err" | wc -l) -gt 0 ]]; then echo "FAIL $name: error is not one line: $err"; fails=$((fails+1)); return; fi
  if [[ "$want" == 2 && -n "$out" ]]; then echo "FAIL $name: stdout on error: $out"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}

check unknown-env 2 "unknown env ID 'Nope-v0'; valid IDs: Acrobot-v1" -- "$BIN" eval --env Nope-v0
check unknown-flag 2 "--frobnicate" -- "$BIN" eval --env CartPole-v1 --frobnicate
check unknown-kwarg 2 "unknown kwarg 'slippery' for FrozenLake-v1; valid kwargs: desc" -- "$BIN" eval --env FrozenLake-v1 --kwarg slippery=true
check bad-kwarg-value 2 "kwarg 'is_slippery' of FrozenLake-v1 must be true or false" -- "$BIN" eval --env FrozenLake-v1 --kwarg is_slippery=maybe
check bad-kwarg-form 2 "--kwarg: expected key=value, got 'is_slippery'" -- "$BIN" eval --env FrozenLake-v1 --kwarg is_slippery
# Integer kwargs beyond 32 bits wrapped silently (max_ticks=4294967301 played 5 ticks).
# A repeated --kwarg or --set kept its last value without a word.
check kwarg-flag-twice 2 "--kwarg map_name is given twice (map_name=4x4 and map_name=8x8); give it once" -- "$BIN" check-env FrozenLake-v1 --kwarg map_name=4x4 --kwarg map_name=8x8
check set-twice 2 "--set n_steps is given twice (n_steps=16 and n_steps=32); give it once" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config --set n_steps=16 --set n_steps=32
# Threads that cannot all work were taken without a word.
check torch-threads-above-cores 0 "warning: config key torch_threads is 4096, more than this machine's" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config --set torch_threads=4096
check env-threads-above-envs 0 "warning: config key env_threads is 8, more than num_envs 2: 2 threads step the envs" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config --set env_threads=8 --set num_envs=2
check alphabeta-depth-range 2 "--policy: 'alphabeta:20': write alphabeta:DEPTH with DEPTH a whole number in 1..12" -- "$BIN" eval --env ConnectFour-v0 --policy alphabeta:20 --episodes 1
check muzero-priority-alpha 2 "config key 'priority_alpha' must be >= 0, got -1" -- "$BIN" train --algo muzero --env TicTacToe-v0 --show-config --set priority_alpha=-1
# eval --env all printed its table's header before a --policy error.
check eval-all-bad-policy 2 "--policy 'clever' is not a scripted policy" -- "$BIN" eval --env all --episodes 1 --policy clever
check kwarg-beyond-32-bits 2 "kwarg 'max_ticks' of TowerDefense-v0 is 4294967301, beyond the 32-bit integers (-2147483648 to 2147483647)" -- "$BIN" eval --env TowerDefense-v0 --kwarg max_ticks=4294967301 --episodes 1
check arena-kwarg-beyond-32-bits 2 "kwarg 'width' of Arena-v0 is 4294967305" -- "$BIN" eval --env Arena-v0 --kwarg width=4294967305 --episodes 1
check kwarg-beyond-32-bits-and-64 2 "kwarg 'max_ticks' of TowerDefense-v0 is 99999999999999999999, beyond the 32-bit integers (-2147483648 to 2147483647)" -- "$BIN" eval --env TowerDefense-v0 --kwarg max_ticks=99999999999999999999 --episodes 1
check kwarg-long-digits-then-letters 2 "kwarg 'procedural_seed' of TowerDefense-v0 must be an integer, got '99999999999999999999abc'" -- "$BIN" eval --env TowerDefense-v0 --kwarg stage=0 --kwarg procedural_seed=99999999999999999999abc --episodes 1
check kwarg-beyond-64-bits 2 "kwarg 'procedural_seed' of TowerDefense-v0 is 9223372036854775808, beyond the 64-bit integers (-9223372036854775808 to 9223372036854775807)" -- "$BIN" eval --env TowerDefense-v0 --kwarg stage=0 --kwarg procedural_seed=9223372036854775808 --episodes 1
check bad-episodes 2 "--episodes must be >= 1" -- "$BIN" eval --env CartPole-v1 --episodes 0
check bad-policy 2 "valid for CartPole-v1: random, random-legal, DIR" -- "$BIN" eval --env CartPole-v1 --policy clever
check other-envs-policy 2 "policy 'greedy' is Arena-v0's scripted greedy team; CartPole-v1 has none" -- "$BIN" eval --env CartPole-v1 --policy greedy
# A missing or misspelt subcommand said only "A subcommand is required".
check no-subcommand 2 "'rlforge' needs a subcommand (one of: envs, eval, play" -- "$BIN"
check unknown-subcommand 2 "'frobnicate' is not a subcommand of 'rlforge' (one of: envs, eval" -- "$BIN" frobnicate
check unknown-lm-subcommand 2 "'generate' is not a subcommand of 'rlforge lm' (one of: sample; see 'rlforge lm --help')" -- "$BIN" lm generate
check bench-no-subcommand 2 "'rlforge bench' needs a subcommand (one of: env, train" -- "$BIN" bench
check check-env-ok 0 "" -- "$BIN" check-env CartPole-v1
check check-env-unknown 2 "unknown env ID" -- "$BIN" check-env Nope-v0
check bench-bad 2 "--num-envs must be in 1..65536" -- "$BIN" bench env --env CartPole-v1 --num-envs 0
# bench distributed took "2,1" (1 rank measured against 2), failed inside on "1,1", and ran dqn's 1-rank
# case before saying dqn trains on one process only; launch --nproc 1 -- bench allreduce said to launch it.
check bench-dist-ranks-order 2 "--ranks must be increasing (the first is the speedup's baseline), got '2,1'" -- "$BIN" bench distributed --ranks 2,1
check bench-dist-ranks-twice 2 "--ranks must be increasing" -- "$BIN" bench distributed --ranks 1,1
check bench-dist-algo 2 "bench distributed: dqn does not train as a job of several ranks; the agents that do: " -- "$BIN" bench distributed --algo dqn --ranks 1,2
check bench-dist-config 2 "unknown config key 'n_stepz'" -- "$BIN" bench distributed --set n_stepz=3 --ranks 1,2
"$BIN" launch --nproc 1 -- bench allreduce >/dev/null 2>/tmp/rlf_cli_err; code=$?
[[ $code == 2 ]] && grep -q "^rlforge: error: bench allreduce needs a job of at least 2 ranks (this one has 1)" /tmp/rlf_cli_err && echo "ok   allreduce-one-rank" || { echo "FAIL allreduce-one-rank: exit $code: $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); }
check play-ok 0 "" -- "$BIN" play --env FrozenLake-v1 --seed 1
check envs-ok 0 "" -- "$BIN" envs
envs=$("$BIN" envs -v)
[[ "$envs" == *"--policy heuristic"* && "$envs" == *"--policy alphabeta:DEPTH"* && "$envs" == *"max_episode_steps    default 500"* ]] && echo "ok   envs-lists-scripted-policies" || { echo "FAIL envs -v lacks the scripted policies"; fails=$((fails+1)); }

# eval --json prints one JSON object with the contract's keys.
json=$("$BIN" eval --env FrozenLake-v1 --policy random --episodes 500 --seed 3 --json)
if python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
for k in ["episodes", "mean_return", "std_return", "mean_length", "std_length", "success_rate"]:
    assert k in d, k
assert d["episodes"] == 500
assert 0 <= d["success_rate"] <= 1 and abs(d["success_rate"] - d["mean_return"]) < 1e-12
PY
then echo "ok   eval-json"; else echo "FAIL eval-json: $json"; fails=$((fails+1)); fi
json2=$("$BIN" eval --env FrozenLake-v1 --policy random --episodes 500 --seed 3 --json)
[[ "$json" == "$json2" ]] && echo "ok   eval-reproducible" || { echo "FAIL eval-reproducible"; fails=$((fails+1)); }
cp_json=$("$BIN" eval --env CartPole-v1 --episodes 50 --json)
[[ "$cp_json" != *success_rate* ]] && echo "ok   no-success-for-cartpole" || { echo "FAIL success_rate on CartPole"; fails=$((fails+1)); }
bench=$("$BIN" bench env --env CartPole-v1 --num-envs 8 --threads 2 --steps 100000 --json)
[[ "$bench" == *steps_per_second* ]] && echo "ok   bench-json" || { echo "FAIL bench-json: $bench"; fails=$((fails+1)); }
play=$("$BIN" play --env Taxi-v4 --seed 2 --max-steps 3)
[[ "$play" == *"step 3"* && "$play" == *"+---------+"* && "$play" == *"stopped after 3 steps (--max-steps)"* ]] && echo "ok   play-render" || { echo "FAIL play-render: $play"; fails=$((fails+1)); }

# train: bad input is rejected before anything is written; a short run writes
# the run directory, and eval/play accept it.
tmp=$(mktemp -d)
check train-unknown-key 2 "unknown config key 'n_stepz'" -- "$BIN" train --algo ppo --env CartPole-v1 --set n_stepz=3 --out "$tmp/bad"
check train-unknown-algo 2 "unknown algorithm 'ppo2'; valid: ppo" -- "$BIN" train --algo ppo2 --env CartPole-v1 --out "$tmp/bad"
check pretrain-policy-env 2 "config key 'pretrain_policy': policy 'heuristic' is offered by LunarLander-v3, LunarLanderContinuous-v3, TowerDefense-v0; CartPole-v1 has none" -- "$BIN" train --algo ppo --env CartPole-v1 --set pretrain_policy=heuristic --steps 1000 --out "$tmp/bad-pretrain"
check pretrain-box-actions 2 "config key 'pretrain_policy': behaviour cloning of demonstrations needs Discrete or MultiDiscrete actions; LunarLanderContinuous-v3 has Box" -- "$BIN" train --algo ppo --env LunarLanderContinuous-v3 --set pretrain_policy=heuristic --steps 1000 --out "$tmp/bad-pretrain-box"
check demo-policy-name 2 "config key 'demo_policy': 'expert' is not a scripted policy" -- "$BIN" train --algo dqn --env CartPole-v1 --set demo_policy=expert --steps 1000 --out "$tmp/bad-demo"
check train-bad-env 2 "unknown env ID" -- "$BIN" train --algo ppo --env Nope-v1 --out "$tmp/bad"
[[ ! -e "$tmp/bad" ]] && echo "ok   train-nothing-written" || { echo "FAIL train wrote $tmp/bad"; fails=$((fails+1)); }
check train-tabular-continuous 2 "tabular methods need Discrete or MultiDiscrete observations" -- "$BIN" train --algo q-learning --env CartPole-v1 --out "$tmp/bad"
check train-show-config 0 "" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config
# Keys of exploration noise, prioritized replay or a learned temperature not in use changed nothing without
# a word; DQN's exploration error named no key; DQN took any batch size (a huge one held a stop signal for minutes).
check td3-noise-without-noise 0 "warning: config key noise_std shapes action_noise, and action_noise is none: no effect" -- "$BIN" train --algo td3 --env Pendulum-v1 --steps 200 --set action_noise=none --set noise_std=0.3 --set learning_starts=100 --set eval_episodes=1 --out "$tmp/td3-inert" --no-progress
check td3-theta-with-normal-noise 0 "warning: config key noise_theta shapes Ornstein-Uhlenbeck noise, and action_noise is normal: no effect" -- "$BIN" train --algo td3 --env Pendulum-v1 --steps 200 --set action_noise=normal --set noise_theta=0.5 --set learning_starts=100 --set eval_episodes=1 --out "$tmp/td3-inert2" --no-progress
check sac-target-entropy-fixed-coef 0 "warning: config key target_entropy steers the learned entropy coefficient, and ent_coef is fixed at 0.1: no effect" -- "$BIN" train --algo sac --env Pendulum-v1 --steps 200 --set ent_coef=0.1 --set target_entropy=-3 --set learning_starts=100 --set eval_episodes=1 --out "$tmp/sac-inert" --no-progress
check dqn-alpha-without-per 0 "warning: config key prioritized_alpha shapes prioritized replay, and prioritized_replay is false: no effect" -- "$BIN" train --algo dqn --env CartPole-v1 --steps 300 --set prioritized_alpha=0.9 --set eval_episodes=1 --out "$tmp/dqn-inert" --no-progress
check dqn-exploration-key 2 "config key 'exploration_final_eps' must be in [0, 1], got 2" -- "$BIN" train --algo dqn --env CartPole-v1 --show-config --set exploration_final_eps=2
check dqn-batch-size-bound 2 "config key 'batch_size' must be in [1, 1000000], got 1000001" -- "$BIN" train --algo dqn --env CartPole-v1 --show-config --set batch_size=1000001
# LunarLander's wind outside Gymnasium's recommended range went without the warning Gymnasium gives.
check lander-wind-warns 0 "warning: LunarLander-v3: wind_power 25 is outside 0..20, the range Gymnasium recommends" -- "$BIN" eval --env LunarLander-v3 --episodes 1 --kwarg enable_wind=true --kwarg wind_power=25
check train-short 0 "" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 512 --set eval_episodes=3 --out "$tmp/run" --no-progress
for f in config.yaml progress.csv eval.json checkpoints/final.pt; do
  [[ -e "$tmp/run/$f" ]] && echo "ok   run-dir-has-$f" || { echo "FAIL run dir lacks $f"; fails=$((fails+1)); }
done
ls "$tmp/run"/events.out.tfevents.* >/dev/null 2>&1 && echo "ok   run-dir-has-tfevents" || { echo "FAIL no event file"; fails=$((fails+1)); }
check train-out-exists 2 "already exists" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 512 --out "$tmp/run"
# eval.json did not say its episodes' seed (the run's + 1,000,000): rlforge eval could not replay it.
seed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seed'])" "$tmp/run/eval.json")
[[ "$seed" == 1000000 ]] && echo "ok   eval-json-seed" || { echo "FAIL eval.json seed: $seed"; fails=$((fails+1)); }
replayed=$("$BIN" eval --policy "$tmp/run" --episodes 3 --seed "$seed" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['mean_return'])")
wanted=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mean_return'])" "$tmp/run/eval.json")
[[ -n "$wanted" && "$replayed" == "$wanted" ]] && echo "ok   eval-replays-eval-json" || { echo "FAIL eval --seed $seed gives $replayed, eval.json $wanted"; fails=$((fails+1)); }
# An unfinished run's directory was evaluated from its newest checkpoint without naming it.
mkdir -p "$tmp/unfinished/checkpoints" && cp "$tmp/run/config.yaml" "$tmp/unfinished/" && cp "$tmp/run/checkpoints/final.pt" "$tmp/unfinished/checkpoints/step_512.pt"
check eval-unfinished-names-checkpoint 0 "note: --policy '$tmp/unfinished' has no final checkpoint (the run is unfinished): its newest, $tmp/unfinished/checkpoints/step_512.pt (512 steps), is used" -- "$BIN" eval --policy "$tmp/unfinished" --episodes 1
check eval-run-dir 0 "" -- "$BIN" eval --env CartPole-v1 --policy "$tmp/run" --episodes 3 --deterministic --json
check eval-checkpoint 0 "" -- "$BIN" eval --env CartPole-v1 --policy "$tmp/run/checkpoints/final.pt" --episodes 3
check eval-wrong-env 2 "was trained on CartPole-v1 with observations Box(" -- "$BIN" eval --env Acrobot-v1 --policy "$tmp/run" --episodes 3
check play-run-dir 0 "" -- "$BIN" play --env CartPole-v1 --policy "$tmp/run" --max-steps 5
check resume-finished 2 "is complete" -- "$BIN" train --resume "$tmp/run"
check resume-longer 0 "" -- "$BIN" train --resume "$tmp/run" --steps 1024 --no-progress
# A config.yaml edited since the checkpoint, and a progress.csv gone, are said.
sed -i 's/^gamma: [0-9.]*/gamma: 0.5/' "$tmp/run/config.yaml"; rm "$tmp/run/progress.csv"
check resume-edited-config 0 "gamma (0.98 then, 0.5 now); the run continues with config.yaml's values" -- "$BIN" train --resume "$tmp/run" --steps 1536 --no-progress
grep -q "progress.csv is missing: its rows up to step 1024 are lost" /tmp/rlf_cli_err && echo "ok   resume-missing-progress-csv" || { echo "FAIL no warning for a missing progress.csv: $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); }
# A TensorBoard file gone was started anew without a word (a missing progress.csv was said).
rm "$tmp/run"/events.out.tfevents.*
check resume-missing-tfevents 0 "warning: $tmp/run has no TensorBoard event file: its scalars up to step 1536 are lost, and a new file starts there" -- "$BIN" train --resume "$tmp/run" --steps 2048 --no-progress
# A full disk (here a file size limit) stops the run at the first log write
# that fails, with one line, instead of training on without logs.
full=$( (trap '' XFSZ; ulimit -f 40; "$BIN" train --algo ppo --env CartPole-v1 --steps 200000 --set n_steps=16 --set num_envs=1 --set batch_size=16 --set eval_episodes=1 --out "$tmp/full" --no-progress) 2>&1 >/dev/null); code=$?
[[ $code == 1 && "$full" == *"cannot write $tmp/full/"* && $(printf '%s' "$full" | wc -l) == 0 ]] && echo "ok   full-disk-stops-the-run" || { echo "FAIL full disk: exit $code: $full"; fails=$((fails+1)); }
check train-conflicting-init-from 2 "both name config key 'init_from'" -- "$BIN" train --algo ppo --env CartPole-v1 --init-from "$tmp/run" --set init_from="$tmp/run" --steps 512 --out "$tmp/conflict"
check show-config-checks-the-agent 2 "layer sizes must be in 1..65536, got -5" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config --set net_arch=[-5]
printf 'gamma: 0.9\ngamma: 0.8\n' > "$tmp/twice.yaml"
check config-key-twice 2 "config key 'gamma' is given twice" -- "$BIN" train --algo ppo --env CartPole-v1 --config "$tmp/twice.yaml" --show-config
check kwarg-twice 2 "names kwarg 'max_episode_steps' twice" -- "$BIN" train --algo ppo --env CartPole-v1 --show-config --set 'env_kwargs={max_episode_steps: 50, max_episode_steps: 60}'
check plot-same-run-twice 2 "is given twice" -- "$BIN" plot "$tmp/run" "$tmp/run" --out "$tmp/twice.png"
check eval-cap-on-limited-env 2 "--max-episode-steps caps envs without a step limit; CartPole-v1 has its own" -- "$BIN" eval --policy "$tmp/run" --max-episode-steps 20 --episodes 2
check play-record-unwritable 2 "no directory" -- "$BIN" play --policy "$tmp/run" --record "$tmp/no/such/dir/p.gif"
check train-out-file 2 "is a file" -- "$BIN" train --algo ppo --env CartPole-v1 --out "$tmp/twice.yaml" --steps 10
check train-out-empty 2 "--out: needs a directory name" -- "$BIN" train --algo ppo --env CartPole-v1 --out "" --steps 10
check eval-policy-missing 2 "--policy 'nope' is not a scripted policy, a run directory or a checkpoint" -- "$BIN" eval --policy nope
check play-record 0 "" -- "$BIN" play --env CartPole-v1 --policy "$tmp/run" --max-steps 20 --record "$tmp/ep.gif"
[[ "$(head -c 6 "$tmp/ep.gif")" == "GIF89a" ]] && echo "ok   gif-written" || { echo "FAIL no GIF"; fails=$((fails+1)); }
check play-record-bad 2 "must name a .gif" -- "$BIN" play --env CartPole-v1 --record "$tmp/ep.png"
check plot 0 "" -- "$BIN" plot "$tmp/run" --out "$tmp/curves.png"
[[ "$(head -c 4 "$tmp/curves.png" | tail -c 3)" == "PNG" ]] && echo "ok   plot-png" || { echo "FAIL no PNG"; fails=$((fails+1)); }
check plot-not-run 2 "not a run directory" -- "$BIN" plot "$tmp" --out "$tmp/x.png"
# Periodic evaluations' curves: eval/<column> reads evaluations.csv.
check train-periodic-eval 0 "" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 1024 --set eval_interval=256 --set eval_interval_episodes=2 --set eval_episodes=2 --out "$tmp/evals" --no-progress
check plot-eval-metric 0 "" -- "$BIN" plot "$tmp/evals" --metric eval/mean_return --out "$tmp/evals.png"
out=$("$BIN" plot "$tmp/evals" --metric eval/mean_return --out "$tmp/evals.png" 2>&1)
[[ "$out" == "wrote $tmp/evals.png (1 curve)" && "$(head -c 4 "$tmp/evals.png" | tail -c 3)" == "PNG" ]] && echo "ok   plot-eval-png" || { echo "FAIL plot-eval-png: $out"; fails=$((fails+1)); }
check plot-eval-no-success 2 "evaluations.csv has no finite 'eval/success_rate' values (the run is finished)" -- "$BIN" plot "$tmp/evals" --metric eval/success_rate --out "$tmp/x.png"
check plot-eval-bad-column 2 "has no 'mean_reward' column; metrics it offers: eval/mean_return, eval/std_return" -- "$BIN" plot "$tmp/evals" --metric eval/mean_reward --out "$tmp/x.png"
check plot-eval-none 2 "has no evaluations.csv (written by runs with periodic evaluations: config key eval_interval > 0)" -- "$BIN" plot "$tmp/run" --metric eval/mean_return --out "$tmp/x.png"
check plot-bad-column 2 "(and eval/<column> for evaluations.csv's)" -- "$BIN" plot "$tmp/run" --metric ep_reward --out "$tmp/x.png"
printf 'garbage' > "$tmp/run/checkpoints/final.pt"
check eval-corrupt-checkpoint 1 "cannot be read" -- "$BIN" eval --env CartPole-v1 --policy "$tmp/run" --episodes 3

# Two-player games: opponents, win/draw/loss rates, human play.
check opponent-bad-depth 2 "alphabeta:DEPTH with DEPTH a whole number" -- "$BIN" eval --env ConnectFour-v0 --opponent alphabeta:x
check opponent-perfect-c4 2 "perfect player plays only TicTacToe-v0" -- "$BIN" eval --env ConnectFour-v0 --opponent perfect
check muzero-no-update-warns 0 "warning: the run made no update (no gradient step in" -- "$BIN" train --algo muzero --env TicTacToe-v0 --steps 40 --set learning_starts=100000 --set simulations=4 --set eval_simulations=4 --set eval_episodes=1 --out "$tmp/mz-noupdate" --no-progress
check opponent-unreachable-server 2 "--opponent http://127.0.0.1:1: no rlforge server answers there" -- "$BIN" eval --env TicTacToe-v0 --opponent http://127.0.0.1:1 --episodes 1
check match-truncated-said 0 "" -- "$BIN" eval --env TicTacToe-v0 --policy perfect --opponent random --max-episode-steps 3 --episodes 4
[[ "$(cat /tmp/rlf_cli_err)" == "" ]] && "$BIN" eval --env TicTacToe-v0 --policy perfect --opponent random --max-episode-steps 3 --episodes 4 | grep -q "truncated 4 of 4 games (counted as draws)" && echo "ok   match-truncated-printed" || { echo "FAIL match truncated not printed"; fails=$((fails+1)); }
check opponent-single-player 2 "--opponent is for two-player games" -- "$BIN" eval --env CartPole-v1 --opponent perfect
check opponent-not-board 2 "plays the board games" -- "$BIN" eval --env CartPole-v1 --policy alphabeta:2
check alphazero-single-player 2 "alphazero plays two-player games" -- "$BIN" train --algo alphazero --env CartPole-v1 --out "$tmp/az"
json=$("$BIN" eval --env TicTacToe-v0 --policy perfect --opponent random --episodes 40 --json)
if python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["episodes"] == 40 and d["loss_rate"] == 0, d
assert abs(d["win_rate"] + d["draw_rate"] + d["loss_rate"] - 1) < 1e-12, d
assert d["win_rate"] > 0.7, d
PY
then echo "ok   eval-two-player-json"; else echo "FAIL eval-two-player-json: $json"; fails=$((fails+1)); fi
# A person plays: bad input is answered and asked again; the game ends.
human=$(printf 'x\n9\n4\n4\n0\n8\n2\n6\n1\n3\n5\n7\n' | "$BIN" play --env TicTacToe-v0 --policy perfect --human --side 1 2>&1)
if [[ "$human" == *"'x' is not a move"* && "$human" == *"is not legal now (that cell is taken)"* && "$human" == *"game over"* ]]; then
  echo "ok   play-human"; else echo "FAIL play-human: $human"; fails=$((fails+1)); fi
quit=$(printf 'q\n' | "$BIN" play --env TicTacToe-v0 --policy perfect --human --side 1 2>&1); code=$?
[[ $code == 0 && "$quit" == *"you quit at move 1; the game is not over"* ]] && echo "ok   play-human-quit" || { echo "FAIL play-human-quit: exit $code: $quit"; fails=$((fails+1)); }
check play-human-and-opponent 2 "--human and --opponent both name the other side" -- "$BIN" play --env TicTacToe-v0 --policy perfect --human --opponent perfect
check play-human-eof 1 "input ended" -- bash -c "printf '' | '$BIN' play --env ConnectFour-v0 --policy random --human"
check train-alphazero 0 "" -- "$BIN" train --algo alphazero --env TicTacToe-v0 --steps 300 --set num_actors=0 --set simulations=10 --set eval_simulations=10 --set eval_episodes=4 --out "$tmp/az" --no-progress
check eval-alphazero 0 "" -- "$BIN" eval --env TicTacToe-v0 --policy "$tmp/az" --opponent perfect --episodes 2
check train-muzero 0 "" -- "$BIN" train --algo muzero --env CartPole-v1 --steps 300 --set num_actors=0 --set simulations=5 --set eval_simulations=5 --set eval_episodes=2 --set learning_starts=100 --set batch_size=16 --out "$tmp/mz" --no-progress
# Team games and self-play with a league (issue 17).
json=$("$BIN" eval --env Arena-v0 --policy tactic --opponent bot:random --kwarg strict=true --episodes 20 --json)
if python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["episodes"] == 20 and d["opponent"] == "bot:random", d
assert d["win_rate"] >= 0.7 and abs(d["win_rate"] + d["draw_rate"] + d["loss_rate"] - 1) < 1e-12, d
PY
then echo "ok   eval-team-bot-json"; else echo "FAIL eval-team-bot-json: $json"; fails=$((fails+1)); fi
check team-bot-bogus 2 "--opponent 'bot:wizard': Arena-v0 has no bot 'wizard' (its bots: random, greedy, tactic" -- "$BIN" eval --env Arena-v0 --opponent bot:wizard
check train-selfplay 0 "" -- "$BIN" train --algo recurrent-ppo --env Arena-v0 --preset selfplay --steps 2048 --set num_envs=4 --set n_steps=32 --set bptt_len=8 --set batch_size=64 --set rnn_hidden_size=8 --set net_arch=[8] --set snapshot_interval=4 --set rating_games=4 --set eval_interval=0 --set eval_episodes=4 --out "$tmp/sp" --no-progress
# 16 iterations: snapshots at 0, 4, 8, 12 and 16, after the three bots' rows.
if [[ $(wc -l < "$tmp/sp/ratings.csv") == 9 && $(head -1 "$tmp/sp/ratings.csv") == iteration,timesteps,player,mu,sigma,conservative,* && $(tail -1 "$tmp/sp/ratings.csv") == 16,2048,snapshot:4,* ]]; then
  echo "ok   selfplay-ratings-csv"; else echo "FAIL selfplay-ratings-csv: $(cat "$tmp/sp/ratings.csv")"; fails=$((fails+1)); fi
# Recurrent policies export with their state (docs/deploy.md): each format is
# checked against rlforge's own actions, episode by episode.
check train-rppo 0 "" -- "$BIN" train --algo recurrent-ppo --env CartPoleNoVel-v1 --steps 512 --set num_envs=4 --set n_steps=64 --set bptt_len=16 --set batch_size=64 --set rnn_hidden_size=8 --set net_arch=[8] --set eval_episodes=2 --out "$tmp/rppo" --no-progress
for fmt in rlf torchscript onnx; do
  out=$("$BIN" export "$tmp/rppo" --format $fmt --out "$tmp/rppo.$fmt" --describe 2>&1)
  if [[ $? == 0 && "$out" == *"equal rlforge's on 2000 of 2000"* && "$out" == *'"state_size": 16'* ]]; then
    echo "ok   export-recurrent-$fmt"; else echo "FAIL export-recurrent-$fmt: $out"; fails=$((fails+1)); fi
done
check export-selfplay 0 "" -- "$BIN" export "$tmp/sp" --format rlf --out "$tmp/sp.rlf"
check eval-vs-snapshot 0 "" -- "$BIN" eval --policy "$tmp/sp" --opponent "$tmp/sp:1" --episodes 4
check eval-vs-bot 0 "" -- "$BIN" eval --policy "$tmp/sp" --opponent bot:strong --episodes 4 --stochastic
check eval-snapshot-missing 2 "snapshot 9 does not exist: the run keeps snapshots 0..4" -- "$BIN" eval --policy "$tmp/sp" --opponent "$tmp/sp:9"
grep -q '"opponent": "bot:tactic"' "$tmp/sp/eval.json" && echo "ok   selfplay-eval-json-opponent" || { echo "FAIL selfplay eval.json names no opponent: $(cat "$tmp/sp/eval.json")"; fails=$((fails+1)); }
# eval's default team-1 opponent was written "random" in --json; --opponent calls it bot:random.
"$BIN" eval --policy "$tmp/sp" --episodes 2 --json | grep -q '"opponent": "bot:random"' && echo "ok   eval-default-team-opponent-json" || { echo "FAIL eval default team opponent json: $("$BIN" eval --policy "$tmp/sp" --episodes 2 --json)"; fails=$((fails+1)); }
# rating_bots took any scripted policy (random-legal), which eval's --opponent bot: refuses.
check selfplay-bot-not-the-envs 2 "config key 'rating_bots': Arena-v0 has no bot 'random-legal' (its bots: random, greedy, tactic" -- "$BIN" train --algo recurrent-ppo --env Arena-v0 --preset selfplay --set rating_bots=random-legal,tactic --steps 64 --out "$tmp/sprl"
check plot-ratings-typo 2 "(and eval/<column> for evaluations.csv's; rating, rating_conservative)" -- "$BIN" plot "$tmp/sp" --metric ratings --out "$tmp/sp.png"
check selfplay-no-bots 2 "config key 'rating_bots' must name at least one" -- "$BIN" train --algo recurrent-ppo --env Arena-v0 --preset selfplay --set rating_bots= --steps 64 --out "$tmp/spnb"
# play drives a self-play run's game: team 1 from --opponent (random without).
play=$("$BIN" play --policy "$tmp/sp" --opponent bot:tactic 2>&1)
[[ $? == 0 && "$play" == *"team 1 bot:tactic"* && "$play" == *"game over after "*" against bot:tactic"* ]] && echo "ok   play-selfplay" || { echo "FAIL play-selfplay: $play"; fails=$((fails+1)); }
play=$("$BIN" play --policy "$tmp/sp" --max-steps 3 2>&1)
[[ $? == 0 && "$play" == *"team 1 random"* && "$play" == *"stopped after 3 steps"* ]] && echo "ok   play-selfplay-default" || { echo "FAIL play-selfplay-default: $play"; fails=$((fails+1)); }
check play-team-human 2 "Arena-v0 is a team game" -- "$BIN" play --policy "$tmp/sp" --human
check team-kwarg-conflict 2 "--opponent 'bot:random' and --kwarg opponent=tactic both name Arena-v0's team 1" -- "$BIN" eval --policy "$tmp/sp" --kwarg opponent=tactic --opponent bot:random --episodes 2
check plot-rating 0 "" -- "$BIN" plot "$tmp/sp" --metric rating --out "$tmp/rating.png"
check plot-rating-none 2 "has no ratings.csv" -- "$BIN" plot "$tmp/az" --metric rating --out "$tmp/rating2.png"
check bench-env-multi-agent 2 "Arena-v0 with these kwargs has 2 agents acting at every step" -- "$BIN" bench env --env Arena-v0 --kwarg opponent=external
check bench-env-board 0 "" -- "$BIN" bench env --env ConnectFour-v0 --num-envs 8 --steps 20000
check bench-search 0 "" -- "$BIN" bench search --env TicTacToe-v0 --simulations 50 --positions 2
check bench-search-bad 2 "bench search runs on the two-player board games" -- "$BIN" bench search --env CartPole-v1

# Hardening (issue 13): flags and values are never silently ignored.
check no-env 2 "give --env" -- "$BIN" train --algo ppo --out "$tmp/bad"
check empty-env 2 "give --env" -- "$BIN" train --algo ppo --env '' --out "$tmp/bad"
check config-dir 2 "is a directory" -- "$BIN" train --algo ppo --env CartPole-v1 --config "$tmp" --out "$tmp/bad"
check set-env 2 "config key 'env' cannot be changed with --set" -- "$BIN" train --algo ppo --env CartPole-v1 --set env=Pendulum-v1 --out "$tmp/bad"
printf 'env: Acrobot-v1\n' > "$tmp/acro.yaml"
check config-env-differs 2 "differs from 'env: Acrobot-v1'" -- "$BIN" train --algo ppo --env CartPole-v1 --config "$tmp/acro.yaml" --out "$tmp/bad"
check dqn-grad-norm-negative 2 "config key 'max_grad_norm' must be > 0 or null (no clipping), got -1" -- "$BIN" train --algo dqn --env CartPole-v1 --set max_grad_norm=-1 --out "$tmp/bad"
check qrdqn-grad-norm-zero 2 "config key 'max_grad_norm' must be > 0 or null (no clipping), got 0" -- "$BIN" train --algo qr-dqn --env CartPole-v1 --set max_grad_norm=0 --out "$tmp/bad"
# null optionals read and shown as null (stdout; yaml-cpp's default was ~): DQN without clipping, QR-DQN's eps left to its rule
if "$BIN" train --algo dqn --env CartPole-v1 --set max_grad_norm=null --show-config 2>/dev/null | grep -q "^max_grad_norm: null" &&
   "$BIN" train --algo qr-dqn --env CartPole-v1 --show-config 2>/dev/null | grep -q "^adam_eps: null  # Adam epsilon (null: dqn 1e-8, as SB3; qr-dqn 0.01 / batch_size"; then
  echo "ok   dqn-null-optionals"
else
  echo "FAIL dqn-null-optionals: max_grad_norm=null or qr-dqn's adam_eps not shown as null"; fails=$((fails+1))
fi
check dqn-demo-fraction-unused 2 "config key 'demo_fraction' must be in [0, 1), got 2" -- "$BIN" train --algo dqn --env LunarLander-v3 --set demo_fraction=2 --out "$tmp/bad"
check ppo-vf-coef-negative 2 "config key 'vf_coef' must be >= 0, got -1" -- "$BIN" train --algo ppo --env CartPole-v1 --set vf_coef=-1 --out "$tmp/bad"
check impala-rmsprop-alpha 2 "config key 'rmsprop_alpha' must be in (0, 1), got 1" -- "$BIN" train --algo impala --env CartPole-v1 --set rmsprop_alpha=1 --out "$tmp/bad"
check td3-no-update-warns 0 "warning: the run made no update (no gradient step in 600 steps)" -- "$BIN" train --algo td3 --env Pendulum-v1 --steps 600 --set learning_starts=5000 --set eval_episodes=1 --out "$tmp/td3-noupdate" --no-progress
check resume-missing 2 "'$tmp/nope' does not exist (give the directory of the run to resume)" -- "$BIN" train --resume "$tmp/nope"
check resume-steps-zero 2 "must be >= 1, got 0" -- "$BIN" train --resume "$tmp/run" --steps 0
check out-uncreatable 2 "cannot create the output directory '/proc/rlf-nope/run': No such file or directory" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 64 --out /proc/rlf-nope/run
check resume-with-out 2 "--resume takes only --steps" -- "$BIN" train --resume "$tmp/run" --out "$tmp/other"
check steps-overflow 2 "out of range" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 99999999999999999999 --out "$tmp/bad"
check episodes-overflow 2 "out of range" -- "$BIN" eval --env CartPole-v1 --episodes 99999999999999999999
check seed-negative 2 "is negative" -- "$BIN" eval --env CartPole-v1 --seed -1
check steps-not-number 2 "not a whole number" -- "$BIN" eval --env CartPole-v1 --episodes 1e3
check play-record-empty 2 "--record needs a file name" -- "$BIN" play --env CartPole-v1 --record ''
check play-max-steps-negative 2 "--max-steps must be >= 0" -- "$BIN" play --env CartPole-v1 --max-steps -1
check play-delay-negative 2 "--delay-ms must be >= 0" -- "$BIN" play --env CartPole-v1 --delay-ms -1
check play-side-one-player 2 "--side is for two-player board games; CartPole-v1 has one player" -- "$BIN" play --env CartPole-v1 --side 1
check play-side-team-game 2 "--side is for two-player board games; Arena-v0 is a team game (the policy plays team 0, --opponent team 1)" -- "$BIN" play --env Arena-v0 --policy random --side 1
check opponent-bogus 2 "--opponent 'bogus'" -- "$BIN" eval --env TicTacToe-v0 --opponent bogus
check demo-policy-empty 0 "" -- "$BIN" train --algo dqn --env CartPole-v1 --set demo_policy= --show-config
check det-and-stoch 2 "excludes" -- "$BIN" eval --env CartPole-v1 --deterministic --stochastic
check stochastic-scripted 2 "--stochastic changes how trained policies act; --policy 'heuristic' is a scripted policy" -- "$BIN" eval --env LunarLander-v3 --policy heuristic --episodes 1 --stochastic
check stochastic-scripted-pair 2 "--policy 'random' and --opponent 'alphabeta:1' are scripted" -- "$BIN" eval --env TicTacToe-v0 --opponent alphabeta:1 --episodes 1 --stochastic
check play-stochastic-scripted 2 "--stochastic changes how trained policies act" -- "$BIN" play --env CartPole-v1 --stochastic
check record-deterministic-scripted 2 "--deterministic changes how trained policies act" -- "$BIN" record --env CartPole-v1 --episodes 1 --deterministic --out "$tmp/rec_det"
check random-strict-illegal 2 "illegal action" -- "$BIN" eval --env TowerDefense-v0 --kwarg strict=true --episodes 2
check random-legal-strict 0 "" -- "$BIN" eval --env TowerDefense-v0 --kwarg strict=true --policy random-legal --episodes 2
# A lenient game's refused actions are shown: per step and at the end by play, per episode by eval.
play_td=$("$BIN" play --env TowerDefense-v0 --policy random --seed 0 --max-steps 40)
[[ "$play_td" == *"(illegal: refused)"* ]] && echo "ok   play-shows-refused" || { echo "FAIL play shows no refused action: $(echo "$play_td" | grep action | head -3)"; fails=$((fails+1)); }
"$BIN" play --env TowerDefense-v0 --policy random --seed 0 | tail -1 | grep -Eq "^episode over after [0-9]+ steps, return .*, [0-9]+ illegal action\(s\) refused$" && echo "ok   play-counts-refused" || { echo "FAIL play's end line: $("$BIN" play --env TowerDefense-v0 --policy random --seed 0 | tail -1)"; fails=$((fails+1)); }
play_h=$("$BIN" play --env TowerDefense-v0 --policy heuristic --seed 0 2>&1); code=$?
[[ $code == 0 && "$play_h" == *"episode over after"* && "$play_h" != *illegal* ]] && echo "ok   play-legal-shows-none" || { echo "FAIL heuristic play (exit $code): $(echo "$play_h" | tail -2)"; fails=$((fails+1)); }
"$BIN" play --env Arena-v0 --policy random --seed 0 --max-steps 30 | grep -q "(illegal: refused)" && echo "ok   play-shows-arena-refused" || { echo "FAIL play shows no refused Arena move"; fails=$((fails+1)); }
eval_td=$("$BIN" eval --env TowerDefense-v0 --policy random --episodes 2 --json)
python3 -c "import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if j['illegal_actions'] > 50 else 1)" "$eval_td" && echo "ok   eval-json-illegal-actions" || { echo "FAIL eval json illegal_actions: $eval_td"; fails=$((fails+1)); }
# check-env draws TowerDefense's actions under its conditional masks (strict=true failed on every seed).
check check-env-td-strict 0 "" -- "$BIN" check-env TowerDefense-v0 --kwarg strict=true
check ppo-batch-over-rollout 0 "warning: config key 'batch_size' (1024) is larger than a rollout (n_steps 32 x num_envs 1 = 32)" -- "$BIN" train --algo ppo --env CartPole-v1 --set num_envs=1 --set n_steps=32 --set batch_size=1024 --set eval_episodes=1 --steps 64 --out "$tmp/ppo_batch" --no-progress
[[ $(grep -c "is larger than a rollout" /tmp/rlf_cli_err) == 1 ]] && echo "ok   ppo-batch-warning-once" || { echo "FAIL ppo-batch-warning-once: $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); }
# Keys set to values that change nothing are named, not silently ignored.
check ppo-log-std-discrete 0 "warning: config key log_std_init only shapes Gaussian policies, and the actions are Discrete(2): no effect" -- "$BIN" train --algo ppo --env CartPole-v1 --set num_envs=1 --set n_steps=32 --set batch_size=32 --set log_std_init=-1 --set eval_episodes=1 --steps 32 --out "$tmp/ppo_logstd" --no-progress
check ppo-sde-freq-without-sde 0 "warning: config key sde_sample_freq only shapes gSDE exploration, and use_sde is false: no effect" -- "$BIN" train --algo ppo --env Pendulum-v1 --set num_envs=1 --set n_steps=32 --set batch_size=32 --set sde_sample_freq=4 --set eval_episodes=1 --steps 32 --out "$tmp/ppo_sdefreq" --no-progress
check sac-sde-keys-without-sde 0 "warning: config keys log_std_init, clip_mean only shape gSDE exploration, and use_sde is false: no effect" -- "$BIN" train --algo sac --env Pendulum-v1 --set log_std_init=-2 --set clip_mean=1 --set learning_starts=16 --set batch_size=16 --set eval_episodes=1 --steps 32 --out "$tmp/sac_sde" --no-progress
check ppo-log-std-box-quiet 0 "" -- "$BIN" train --algo ppo --env Pendulum-v1 --set num_envs=1 --set n_steps=32 --set batch_size=32 --set log_std_init=-1 --set eval_episodes=1 --steps 32 --out "$tmp/ppo_logstd_box" --no-progress
! grep -q "no effect" /tmp/rlf_cli_err && echo "ok   ppo-log-std-box-no-warning" || { echo "FAIL ppo-log-std-box-no-warning: $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); }
check eval-cap-limited-env 2 "config key 'eval_max_episode_steps' caps envs without a step limit; CartPole-v1 has its own (env_kwargs max_episode_steps=N changes it)" -- "$BIN" train --algo ppo --env CartPole-v1 --set eval_max_episode_steps=50 --steps 64 --out "$tmp/bad_cap"
[[ ! -e "$tmp/bad_cap" ]] && echo "ok   eval-cap-refused-leaves-nothing" || { echo "FAIL eval-cap-refused-leaves-nothing"; fails=$((fails+1)); }
check frozen-lake-huge 2 "map_size" -- "$BIN" eval --env FrozenLake-v1 --kwarg map_name=random --kwarg map_size=100000
check num-envs-huge 2 "config key 'num_envs' must be in 1..65536" -- "$BIN" train --algo ppo --env CartPole-v1 --set num_envs=100000000 --out "$tmp/bad"
check net-arch-huge 2 "config key 'net_arch'" -- "$BIN" train --algo ppo --env CartPole-v1 --set net_arch=[100000000] --out "$tmp/bad"
check buffer-huge 2 "needs about" -- "$BIN" train --algo dqn --env CartPole-v1 --set buffer_size=100000000000 --out "$tmp/bad"
check bench-num-envs-huge 2 "--num-envs must be in 1..65536" -- "$BIN" bench env --env CartPole-v1 --num-envs 2000000000
check bench-search-sims-huge 2 "--simulations must be in 2..100000, got 1000000000" -- "$BIN" bench search --env TicTacToe-v0 --simulations 1000000000
check bench-search-threads-0 2 "--torch-threads must be >= 1, got 0" -- "$BIN" bench search --env TicTacToe-v0 --torch-threads 0
out=$("$BIN" bench search --env TicTacToe-v0 --simulations 8 --positions 1 --batch 64)
[[ "$out" == *"batched ( 8 leaves, all of a search's)"* ]] && echo "ok   bench-search-batch-capped" || { echo "FAIL bench-search-batch-capped: $out"; fails=$((fails+1)); }
check az-sims-huge 2 "config key 'simulations' must be in 1..100000, got 1000000000" -- "$BIN" train --algo alphazero --env TicTacToe-v0 --set simulations=1000000000 --out "$tmp/bad"
check mz-eval-sims-huge 2 "config key 'eval_simulations' must be in 1..100000" -- "$BIN" train --algo muzero --env TicTacToe-v0 --set eval_simulations=1000000000 --out "$tmp/bad"
check bench-env-all-kwarg 2 "--kwarg needs a single --env, not 'all'" -- "$BIN" bench env --env all --kwarg max_episode_steps=2 --steps 10
check eval-opponent-empty 2 "--opponent: is empty; leave the flag out for its default" -- "$BIN" eval --env TicTacToe-v0 --opponent ''
check eval-alphabeta-no-depth 2 "alphabeta without a depth: write alphabeta:DEPTH" -- "$BIN" eval --env ConnectFour-v0 --opponent alphabeta:
check bench-search-net-arch-0 2 "--net-arch sizes must be in 1.." -- "$BIN" bench search --env TicTacToe-v0 --net-arch 0
[[ ! -e "$tmp/bad" ]] && echo "ok   hardening-nothing-written" || { echo "FAIL hardening wrote $tmp/bad"; fails=$((fails+1)); }

# eval and play use a run's own env and kwargs, deterministically by default.
check train-lake 0 "" -- "$BIN" train --algo q-learning --env FrozenLake-v1 --set env_kwargs='{is_slippery: false}' --steps 2000 --set eval_episodes=5 --out "$tmp/lake" --no-progress
check export-run-file 2 "'$tmp/lake/progress.csv' is a file of the run '$tmp/lake', not a checkpoint: give the run directory or a checkpoint in $tmp/lake/checkpoints" -- "$BIN" export "$tmp/lake/progress.csv" --format rlf --out "$tmp/x.rlf"
check export-run-folder 2 "is a folder of the run '$tmp/lake'" -- "$BIN" export "$tmp/lake/checkpoints/" --format rlf --out "$tmp/x.rlf"
check export-missing-run 2 "'$tmp/lake/checkpoints/nope.pt' does not exist" -- "$BIN" export "$tmp/lake/checkpoints/nope.pt" --format rlf --out "$tmp/x.rlf"
check eval-run-slash 0 "" -- "$BIN" eval --policy "$tmp/lake/" --episodes 1
abs_bin=$(realpath "$BIN")
(cd "$tmp/lake" && "$abs_bin" eval --policy ./checkpoints/final.pt --episodes 1 >/dev/null 2>&1) &&
  (cd "$tmp/lake/checkpoints" && "$abs_bin" eval --policy final.pt --episodes 1 >/dev/null 2>&1) &&
  echo "ok   eval-relative-checkpoint" || { echo "FAIL eval-relative-checkpoint"; fails=$((fails+1)); }
json=$("$BIN" eval --policy "$tmp/lake" --episodes 5 --json 2>/tmp/rlf_cli_warn)
if python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["env"] == "FrozenLake-v1" and d["env_kwargs"] == {"is_slippery": "false"}, d
assert d["deterministic"] is True, d
PY
then echo "ok   eval-uses-the-runs-env"; else echo "FAIL eval-uses-the-runs-env: $json"; fails=$((fails+1)); fi
"$BIN" eval --policy "$tmp/lake" --episodes 2 --kwarg is_slippery=true >/dev/null 2>/tmp/rlf_cli_warn
[[ "$(cat /tmp/rlf_cli_warn)" == *"warning: --kwarg is_slippery=true differs"* ]] && echo "ok   eval-kwarg-warning" || { echo "FAIL eval-kwarg-warning: $(cat /tmp/rlf_cli_warn)"; fails=$((fails+1)); }
"$BIN" train --algo q-learning --env FrozenLake-v1 --steps 500 --set eval_episodes=1 --out "$tmp/lake-default" --no-progress >/dev/null 2>&1 &&
  "$BIN" eval --policy "$tmp/lake-default" --episodes 2 --kwarg is_slippery=true --kwarg map_name=4x4 >/dev/null 2>/tmp/rlf_cli_warn &&
  [[ "$(cat /tmp/rlf_cli_warn)" != *"differs"* ]] &&
  "$BIN" eval --policy "$tmp/lake-default" --episodes 2 --kwarg is_slippery=false --kwarg success_rate=0.3333 >/dev/null 2>/tmp/rlf_cli_warn &&
  [[ "$(cat /tmp/rlf_cli_warn)" == *"is_slippery=false differs"*"at its default"* && "$(cat /tmp/rlf_cli_warn)" == *"success_rate=0.3333 differs"* ]] &&
  echo "ok   eval-kwarg-at-its-default-is-no-difference" || { echo "FAIL eval-kwarg-default: $(cat /tmp/rlf_cli_warn)"; fails=$((fails+1)); }
out=$("$BIN" eval --policy "$tmp/lake" --episodes 2 --stochastic)
[[ "$out" == *"(stochastic)"* ]] && echo "ok   eval-stochastic-mode-printed" || { echo "FAIL eval-stochastic: $out"; fails=$((fails+1)); }
# A scripted policy was labelled "(deterministic)" (random samples whatever the flag).
out=$("$BIN" eval --env CartPole-v1 --policy random --episodes 2)
json=$("$BIN" eval --env CartPole-v1 --policy random --episodes 2 --json)
[[ "$out" == *"policy random (scripted)"* && "$json" == *'"deterministic": null'* ]] && echo "ok   eval-scripted-mode" || { echo "FAIL eval-scripted-mode: $out $json"; fails=$((fails+1)); }
out=$("$BIN" play --env FrozenLake-v1 --policy random --seed 0 --delay-ms 0 2>&1 | head -1)
[[ "$out" == *"policy random (scripted)"* ]] && echo "ok   play-scripted-mode" || { echo "FAIL play-scripted-mode: $out"; fails=$((fails+1)); }

# A run still training is not resumed by a second process beside it (both
# wrote checkpoints, progress.csv and eval.json into one directory).
"$BIN" train --algo ppo --env CartPole-v1 --steps 5000000 --out "$tmp/live" --no-progress >/dev/null 2>&1 &
live=$!
for i in $(seq 100); do [[ -f "$tmp/live/config.yaml" ]] && break; sleep 0.1; done
check resume-live-run 2 "run directory '$tmp/live' is in use by another rlforge process (pid $live)" -- "$BIN" train --resume "$tmp/live" --steps 6000000
kill -TERM $live; wait $live

# Envs without a step limit: evaluation and play end (they used to hang).
check train-cliff 0 "" -- timeout 120 "$BIN" train --algo q-learning --env CliffWalking-v1 --steps 500 --set eval_max_episode_steps=2000 --out "$tmp/cliff" --no-progress
check eval-cliff 0 "" -- timeout 60 "$BIN" eval --policy "$tmp/cliff" --episodes 4 --max-episode-steps 300
play=$(timeout 60 "$BIN" play --env CliffWalking-v1 --policy "$tmp/cliff" --max-episode-steps 40 --seed 1)
[[ "$play" == *"episode over after"* ]] && echo "ok   play-cliff-ends" || { echo "FAIL play-cliff: ${play: -300}"; fails=$((fails+1)); }

# SIGTERM during training writes a checkpoint and exits resumable (128 + 15).
# The signal is sent once the run has logged (start-up is done); every wait
# is bounded.
"$BIN" train --algo ppo --env CartPole-v1 --steps 100000000 --out "$tmp/term" --no-progress >/dev/null 2>/tmp/rlf_cli_err &
pid=$!
for i in $(seq 600); do [[ $(cat "$tmp/term/progress.csv" 2>/dev/null | wc -l) -ge 3 ]] && break; sleep 0.1; done
kill -TERM $pid
for i in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -9 $pid 2>/dev/null
wait $pid; code=$?
ckpt=$(ls "$tmp/term/checkpoints"/step_*.pt 2>/dev/null | head -1)
if [[ $code == 143 && "$(cat /tmp/rlf_cli_err)" == *"rlforge train --resume"* && -n "$ckpt" ]]; then
  echo "ok   sigterm-checkpoints"; else echo "FAIL sigterm: exit $code; $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); fi
stopped=$(basename "$ckpt" .pt); stopped=${stopped#step_}
check resume-after-sigterm 0 "" -- "$BIN" train --resume "$tmp/term" --steps $((stopped + 2048)) --no-progress
[[ -e "$tmp/term/eval.json" && $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['timesteps'])" "$tmp/term/eval.json") -gt $stopped ]] && echo "ok   resumed-past-the-interruption" || { echo "FAIL resumed run did not train on"; fails=$((fails+1)); }
# A two-agent env without self-play failed at the first step with the env's internal error.
check train-two-agents-without-self-play 2 "Arena-v0 with these env_kwargs has 2 agents acting at every step, and ppo acts for one" -- "$BIN" train --algo ppo --env Arena-v0 --set 'env_kwargs={opponent: external}' --steps 64 --out "$tmp/arena-ext"
# Keys without effect in recurrent-ppo were taken without a word; NaN actions were blamed on the env.
check recurrent-league-keys-without-self-play 0 "warning: config key latest_fraction shapes self-play, and self_play is false: no effect" -- "$BIN" train --algo recurrent-ppo --env CartPoleNoVel-v1 --steps 128 --set n_steps=16 --set latest_fraction=0.3 --out "$tmp/rppo-league" --no-progress
check recurrent-rnn-keys-without-rnn 0 "warning: config key rnn_hidden_size shapes the recurrent core, and rnn_type is none: no effect" -- "$BIN" train --algo recurrent-ppo --env CartPoleNoVel-v1 --steps 128 --set n_steps=16 --set rnn_type=none --out "$tmp/rppo-none" --no-progress
check recurrent-batch-above-rollout 0 "warning: config key 'batch_size' (4096) is larger than a rollout (n_steps 16 x num_envs 8 = 128)" -- "$BIN" train --algo recurrent-ppo --env CartPoleNoVel-v1 --steps 128 --set n_steps=16 --set bptt_len=16 --set batch_size=4096 --out "$tmp/rppo-batch" --no-progress
check recurrent-nan-actions 1 "the policy's actions are not finite (NaN or Inf) at step 0" -- "$BIN" train --algo recurrent-ppo --env PendulumNoVel-v1 --steps 4096 --set log_std_init=1e10 --set n_steps=512 --out "$tmp/rppo-nan" --no-progress
# A run killed (-9) before its first checkpoint was a dead end: --resume said
# "no checkpoint", the same train command "already exists ... use --resume".
# It starts again from step 0; its logs are those of an unbroken run.
"$BIN" train --algo ppo --env CartPole-v1 --steps 100000000 --set n_steps=64 --out "$tmp/k9" --no-progress >/dev/null 2>&1 &
pid=$!
for i in $(seq 600); do [[ $(cat "$tmp/k9/progress.csv" 2>/dev/null | wc -l) -ge 4 ]] && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
check resume-before-first-checkpoint 0 "has no checkpoint (the run stopped before its first one): it starts again from step 0" -- "$BIN" train --resume "$tmp/k9" --steps 2048 --no-progress
check unbroken-for-k9 0 "" -- "$BIN" train --algo ppo --env CartPole-v1 --steps 2048 --set n_steps=64 --out "$tmp/k9b" --no-progress
strip() { cut -d, -f1-4,7- "$1" | python3 -c "import sys; [print(','.join(c for i, c in enumerate(l.rstrip().split(',')) if not h[i].startswith('time_'))) for h in [sys.stdin.readline().rstrip().split(',')] for l in [','.join(h)] + sys.stdin.readlines()]"; }
[[ -e "$tmp/k9/eval.json" && "$(strip "$tmp/k9/progress.csv")" == "$(strip "$tmp/k9b/progress.csv")" && $(ls "$tmp/k9" | grep -c tfevents) == 1 ]] && echo "ok   restarted-run-logs-as-unbroken" || { echo "FAIL restarted run: $(ls "$tmp/k9"); $(diff <(strip "$tmp/k9/progress.csv") <(strip "$tmp/k9b/progress.csv") | head -5)"; fails=$((fails+1)); }
# The same with a best.pt from periodic evaluations (kept aside), and a finished
# run whose checkpoints were removed (refused: it would replace its results).
"$BIN" train --algo ppo --env CartPole-v1 --steps 100000000 --set n_steps=64 --set eval_interval=512 --set eval_interval_episodes=2 --out "$tmp/k9e" --no-progress >/dev/null 2>&1 &
pid=$!
for i in $(seq 600); do [[ -e "$tmp/k9e/checkpoints/best.pt" && $(cat "$tmp/k9e/progress.csv" 2>/dev/null | wc -l) -ge 4 ]] && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
check resume-before-first-checkpoint-with-best 0 "the stopped run's best model is kept as $tmp/k9e/checkpoints/best.pt.before-restart" -- "$BIN" train --resume "$tmp/k9e" --steps 1024 --no-progress
[[ -e "$tmp/k9e/checkpoints/best.pt.before-restart" && -e "$tmp/k9e/checkpoints/best.pt" && -e "$tmp/k9e/eval.json" ]] && echo "ok   restart-keeps-best-aside" || { echo "FAIL restart with best.pt: $(ls "$tmp/k9e/checkpoints")"; fails=$((fails+1)); }
rm "$tmp/k9b/checkpoints/final.pt"
check resume-finished-without-checkpoints 2 "the run in '$tmp/k9b' is finished (eval.json) and keeps no checkpoint to continue from" -- "$BIN" train --resume "$tmp/k9b" --steps 4096
[[ -e "$tmp/k9b/progress.csv" && -e "$tmp/k9b/eval.json" ]] && echo "ok   finished-run-kept" || { echo "FAIL finished run changed: $(ls "$tmp/k9b")"; fails=$((fails+1)); }
# Language-model runs: a tiny SFT on TextSort-v0, sampled and scored from the CLI.
check lm-sft 0 "" -- "$BIN" train --algo sft --env TextSort-v0 --steps 20 --set d_model=16 --set n_layers=1 --set n_heads=2 --set demonstrations=50 --set updates_per_iteration=10 --set eval_prompts=4 --set eval_episodes=2 --out "$tmp/lm" --no-progress
sample=$("$BIN" lm sample "$tmp/lm" --prompt "sort:83515=" --n 3 --temperature 1 --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert len(d)==3 and all(r['prompt']=='sort:83515=' and 'score' in r for r in d)" "$sample" && echo "ok   lm-sample-json" || { echo "FAIL lm sample: $sample"; fails=$((fails+1)); }
check lm-plot-default-metric 2 "has no finite 'ep_return_mean' values (the run is finished: agents that play no episodes while training, the offline and language-model ones, leave it empty; choose a column with --metric)" -- "$BIN" plot "$tmp/lm" --out "$tmp/lm.png"
check lm-sample-nan-temperature 2 "--temperature must be in [0, 10], got nan" -- "$BIN" lm sample "$tmp/lm" --prompt "sort:1=" --temperature nan
check lm-sample-rm-missing 2 "--reward-model: '$tmp/nope' does not exist" -- "$BIN" lm sample "$tmp/lm" --prompt "sort:1=" --reward-model "$tmp/nope"
check ppo-lm-gamma 2 "config key 'gamma' must be in (0, 1], got 2" -- "$BIN" train --algo ppo-lm --env TextSort-v0 --set gamma=2 --show-config
# A countdown prompt that no expression solves had the reference "" (an empty answer).
check lm-sft-countdown 0 "" -- "$BIN" train --algo sft --env TextCountdown-v0 --steps 4 --set d_model=16 --set n_layers=1 --set n_heads=2 --set demonstrations=16 --set updates_per_iteration=2 --set eval_prompts=2 --set eval_episodes=0 --out "$tmp/lm-cd" --no-progress
sample=$("$BIN" lm sample "$tmp/lm-cd" --prompt "make 90 from 3,7=" --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d[0]['reference'] is None and d[0]['score'] <= 0, d" "$sample" && echo "ok   lm-sample-no-reference" || { echo "FAIL lm sample unsolvable: $sample"; fails=$((fails+1)); }
check lm-sample-not-lm 2 "is a ppo run, not a language model's" -- "$BIN" lm sample "$tmp/run" --prompt "1+1="
check lm-sample-bad-char 2 "not printable ASCII" -- "$BIN" lm sample "$tmp/lm" --prompt $'sort:1\t2='
check lm-sample-too-long 2 "the model's context is" -- "$BIN" lm sample "$tmp/lm" --prompt "sort:12345678901234567890123456789="
check lm-wrong-env 2 "is not one" -- "$BIN" train --algo grpo --env CartPole-v1 --steps 10 --out "$tmp/bad-lm"
check lm-bad-aggregation 2 "loss_aggregation" -- "$BIN" train --algo grpo --env TextSort-v0 --set loss_aggregation=sum --out "$tmp/bad-lm"
check lm-record 0 "" -- "$BIN" record --env TextSort-v0 --policy solver --episodes 40 --out "$tmp/sortdata"
check lm-sft-from-dataset 0 "" -- "$BIN" train --algo sft --env TextSort-v0 --steps 10 --set demo_dataset="$tmp/sortdata" --set d_model=16 --set n_layers=1 --set n_heads=2 --set eval_prompts=4 --set eval_episodes=2 --out "$tmp/lm-ds" --no-progress
# --dataset gives sft its demonstrations (it was "unknown config key 'dataset'").
check lm-sft-dataset-flag 0 "" -- "$BIN" train --algo sft --env TextSort-v0 --steps 10 --dataset "$tmp/sortdata" --set d_model=16 --set n_layers=1 --set n_heads=2 --set eval_prompts=4 --set eval_episodes=2 --out "$tmp/lm-ds-flag" --no-progress
grep -q "^demo_dataset: $tmp/sortdata" "$tmp/lm-ds-flag/config.yaml" && echo "ok   lm-sft-dataset-flag-sets-demo-dataset" || { echo "FAIL sft --dataset: $(grep demo_dataset "$tmp/lm-ds-flag/config.yaml")"; fails=$((fails+1)); }
check dataset-flag-no-dataset 2 "--dataset is for the offline agents (bc, cql, iql) and sft's demonstrations; ppo takes no dataset" -- "$BIN" train --algo ppo --env CartPole-v1 --dataset "$tmp/sortdata" --out "$tmp/ppo-ds"
# A resume of an sft run whose demo_dataset has moved fails before it changes the run.
mv "$tmp/sortdata" "$tmp/sortdata-moved"
check lm-sft-resume-no-dataset 2 "does not exist" -- "$BIN" train --resume "$tmp/lm-ds" --steps 20
mv "$tmp/sortdata-moved" "$tmp/sortdata"
grep -q "^total_steps: 10 " "$tmp/lm-ds/config.yaml" && [[ -e "$tmp/lm-ds/eval.json" && -e "$tmp/lm-ds/checkpoints/final.pt" ]] && echo "ok   lm-sft-failed-resume-changes-nothing" || { echo "FAIL a failed sft resume changed the run: $(grep total_steps "$tmp/lm-ds/config.yaml"), $(ls "$tmp/lm-ds" "$tmp/lm-ds/checkpoints")"; fails=$((fails+1)); }
check lm-dataset-of-another-env 2 "holds episodes of TextSort-v0" -- "$BIN" train --algo sft --env TextAddition-v0 --steps 10 --set demo_dataset="$tmp/sortdata" --out "$tmp/lm-bad-ds" --no-progress
[[ ! -e "$tmp/lm-bad-ds" ]] && echo "ok   failed-first-iteration-leaves-no-run-dir" || { echo "FAIL $tmp/lm-bad-ds left behind"; fails=$((fails+1)); }
check lm-init-from-other-size 2 "a language model is warm-started whole" -- "$BIN" train --algo grpo --env TextSort-v0 --init-from "$tmp/lm" --steps 10 --out "$tmp/lm-bad-init"
check lm-rm 0 "" -- "$BIN" train --algo rm --env TextSort-v0 --steps 10 --set d_model=16 --set n_layers=1 --set n_heads=2 --set pairs=100 --set updates_per_iteration=5 --set eval_episodes=3 --out "$tmp/lm-rm" --no-progress
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['episodes'] == 0" "$tmp/lm-rm/eval.json" && echo "ok   lm-rm-plays-no-episodes" || { echo "FAIL rm run evaluated episodes"; fails=$((fails+1)); }
grep -q "warning: config key eval_episodes is 3, but rm does not act" /tmp/rlf_cli_err && echo "ok   lm-rm-eval-episodes-warns" || { echo "FAIL rm eval_episodes: $(cat /tmp/rlf_cli_err)"; fails=$((fails+1)); }
check lm-rm-eval-prompts 2 "config key 'eval_prompts' is for the policies" -- "$BIN" train --algo rm --env TextSort-v0 --set eval_prompts=32 --show-config
# Warm starts the shapes let through: a reward model, other attention heads, another env's context.
check lm-init-from-rm 2 "is an rm run, which does not act (no policy to start from); a reward model is given as config key reward_model" -- "$BIN" train --algo grpo --env TextSort-v0 --init-from "$tmp/lm-rm" --set d_model=16 --set n_layers=1 --set n_heads=2 --steps 10 --out "$tmp/lm-init-rm"
check lm-init-from-other-heads 2 "sft's network has n_heads 2, this agent's 4 (set n_heads=2)" -- "$BIN" train --algo grpo --env TextSort-v0 --init-from "$tmp/lm" --set d_model=16 --set n_layers=1 --set n_heads=4 --steps 10 --out "$tmp/lm-init-heads"
check lm-init-from-other-env 2 "it was trained on TextSort-v0, whose context length differs from TextAddition-v0's" -- "$BIN" train --algo grpo --env TextAddition-v0 --init-from "$tmp/lm" --set d_model=16 --set n_layers=1 --set n_heads=2 --steps 10 --out "$tmp/lm-init-env"
check lm-rm-is-no-policy 2 "is no policy" -- "$BIN" eval --policy "$tmp/lm-rm" --env TextSort-v0 --episodes 2
check lm-rm-no-periodic-eval 2 "eval_interval must be 0" -- "$BIN" train --algo rm --env TextSort-v0 --set eval_interval=100 --out "$tmp/lm-rm-bad"
check lm-grpo-rm 0 "" -- "$BIN" train --algo grpo --env TextSort-v0 --steps 10 --set d_model=16 --set n_layers=1 --set n_heads=2 --set prompts_per_iteration=2 --set group_size=2 --set eval_prompts=2 --set eval_episodes=2 --set reward_model="$tmp/lm-rm" --out "$tmp/lm-grpo-rm" --no-progress
# The reward model's env compared as text: an explicit default kwarg was "another env".
check lm-grpo-rm-explicit-default-kwarg 0 "" -- "$BIN" train --algo grpo --env TextSort-v0 --set 'env_kwargs={length: 5}' --steps 10 --set d_model=16 --set n_layers=1 --set n_heads=2 --set prompts_per_iteration=2 --set group_size=2 --set eval_prompts=2 --set eval_episodes=2 --set reward_model="$tmp/lm-rm" --out "$tmp/lm-grpo-rm5" --no-progress
check lm-grpo-rm-other-env 2 "was trained on TextSort-v0, not on TextSort-v0 (length=4)" -- "$BIN" train --algo grpo --env TextSort-v0 --set 'env_kwargs={length: 4}' --steps 10 --set d_model=16 --set n_layers=1 --set n_heads=2 --set reward_model="$tmp/lm-rm" --out "$tmp/lm-grpo-rm4" --no-progress
head -1 "$tmp/lm-grpo-rm/progress.csv" | grep -q ',verifier_reward$' && echo "ok   lm-grpo-rm-logs-the-verifier" || { echo "FAIL no verifier_reward column"; fails=$((fails+1)); }
sample=$("$BIN" lm sample "$tmp/lm" --prompt "sort:83515=" --n 2 --temperature 1 --reward-model "$tmp/lm-rm" --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert len(d)==2 and all(isinstance(r['rm_score'], float) for r in d)" "$sample" && echo "ok   lm-sample-rm-score" || { echo "FAIL lm sample --reward-model: $sample"; fails=$((fails+1)); }
check lm-sample-rm-not-rm 2 "not a reward model's" -- "$BIN" lm sample "$tmp/lm" --prompt "sort:1=" --reward-model "$tmp/lm"
check lm-reward-model-not-rm 2 "is not a reward model's run" -- "$BIN" train --algo ppo-lm --env TextSort-v0 --set reward_model="$tmp/lm" --out "$tmp/lm-bad-rm"
check lm-sample-empty 2 "--prompt is empty" -- "$BIN" lm sample "$tmp/lm" --prompt ""
check lm-sample-topk-greedy 2 "need --temperature > 0" -- "$BIN" lm sample "$tmp/lm" --prompt "sort:1=" --top-k 3
check lm-export 2 "not supported yet" -- "$BIN" export "$tmp/lm" --format rlf --out "$tmp/lm.rlf"
check lm-too-big 2 "is more than the 1e8" -- "$BIN" train --algo sft --env TextSort-v0 --set d_model=4096 --set n_layers=64 --set n_heads=64 --out "$tmp/lm-big"
out=$("$BIN" eval --env TextAddition-v0 --kwarg max_response=1 --policy solver --episodes 5)
[[ "$out" == *"truncated 5 of 5"* && "$out" != *"no step limit"* ]] && echo "ok   eval-truncation-not-blamed-on-the-cap" || { echo "FAIL eval blames the step cap: $out"; fails=$((fails+1)); }
check bench-lm 0 "" -- "$BIN" bench lm --d-model 16 --n-layers 1 --n-heads 2 --batch 4 --new-tokens 4 --seconds 0.01 --json
check bench-lm-bad 2 "--d-model" -- "$BIN" bench lm --d-model 2
# A3C and the tabular agents do not time their parts: bench train printed a split of zeros ("other 100%").
grep -q "time split: not measured (q-learning does not time" <<<"$("$BIN" bench train --algo q-learning --env Taxi-v4 --steps 2000)" && echo "ok   bench-train-says-not-measured" || { echo "FAIL bench train q-learning split"; fails=$((fails+1)); }
out=$("$BIN" bench train --algo q-learning --env Taxi-v4 --steps 2000 --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['seconds_env'] is None and d['torch_threads'] is None, d" "$out" && echo "ok   bench-train-json-null-split" || { echo "FAIL bench train q-learning json: $out"; fails=$((fails+1)); }
# bench train files AlphaZero's self-play under its own name (it used to be all "other").
out=$("$BIN" bench train --algo alphazero --env TicTacToe-v0 --steps 200 --set num_actors=0 --set simulations=10 --set eval_simulations=10 --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); other = d['seconds'] - d['seconds_self_play'] - d['seconds_update'] - d['seconds_env'] - d['seconds_act']; assert d['seconds_self_play'] > 0 and other < 0.2 * d['seconds'], d" "$out" && echo "ok   bench-train-alphazero-self-play" || { echo "FAIL bench train alphazero: $out"; fails=$((fails+1)); }
# check-env all: every row's status starts in one column (IDs of 29+ characters used to push theirs right).
out=$("$BIN" check-env all --steps 5)
cols=$(printf '%s\n' "$out" | grep -v '^  ' | awk '{ match($0, /^[^ ]+ +/); print RLENGTH }' | sort -u | wc -l)
[[ $cols == 1 && $(printf '%s\n' "$out" | grep -c ' OK$') -gt 30 ]] && echo "ok   check-env-all-aligned" || { echo "FAIL check-env all rows misaligned: $out"; fails=$((fails+1)); }
rm -rf "$tmp"

echo "$((fails)) failed"
[[ $fails -eq 0 ]]
