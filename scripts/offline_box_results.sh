#!/usr/bin/env bash
# The Box-action offline results of docs/offline.md, on Pendulum-v1 and
# LunarLanderContinuous-v3: datasets, bc, cql (CQL on SAC's networks; on
# Pendulum also alpha 0, offline SAC) and iql over several seeds (final greedy
# evaluation: eval.json), then SAC online from scratch, with its replay seeded
# from the medium dataset, and warm-started from the CQL run (replay seeded
# too). Prints tables; keeps everything in OUT.
# Usage: scripts/offline_box_results.sh OUT [SEEDS] [ENVS]   (ENVS: "pendulum llc")
set -euo pipefail
out=$1
seeds=${2:-"0 1 2"}
envs=${3:-"pendulum llc"}
R=${RLFORGE:-$(cd "$(dirname "$0")/.." && pwd)/build/rlforge}
mkdir -p "$out"
cd "$out"
quiet() { "$@" >/dev/null; }
ds() { [[ -d $1 ]] || "$R" record --out "$@" | head -1; }
train() {  # algo dataset seed [name suffix and extra flags]
  local algo=$1 data=$2 seed=$3 suffix=${4:-}
  shift 4 2>/dev/null || shift 3
  local run=runs/$algo$suffix-$data-s$seed
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo "$algo" --dataset "$data" --seed "$seed" "$@" --out "$run" --no-progress; }
}
online() {  # env data seed preset-or-"" extra flags...
  local env=$1 data=$2 s=$3 preset=$4
  shift 4
  local p=(); [[ -n $preset ]] && p=(--preset "$preset")
  local run=runs/sac-scratch-$data-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --env "$env" "${p[@]}" --seed "$s" "$@" --out "$run" --no-progress; }
  run=runs/sac-replay-$data-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --env "$env" "${p[@]}" --seed "$s" "$@" \
    --set replay_dataset="$data" --set learning_starts=0 --out "$run" --no-progress; }
  run=runs/sac-cqlinit-$data-s$s
  local ent
  ent=$(python3 -c "import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]['ent_coef'])" \
        runs/cql-$data-s$s/progress.csv)
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --env "$env" "${p[@]}" --seed "$s" "$@" \
    --init-from runs/cql-$data-s$s --set replay_dataset="$data" --set learning_starts=0 \
    --set ent_coef=auto_$ent --out "$run" --no-progress; }
}

if [[ " $envs " == *" pendulum "* ]]; then
  # Expert: SAC's fast preset (12k env steps), greedy; medium: it with 30% uniform actions.
  [[ -d sac_pendulum ]] || quiet "$R" train --algo sac --env Pendulum-v1 --preset fast --seed 0 --out sac_pendulum --no-progress
  ds pendulum_medium --policy sac_pendulum --deterministic --epsilon 0.3 --episodes 50 --expert sac_pendulum \
    --dataset-id pendulum/medium-v0
  for s in $seeds; do
    for algo in bc cql iql; do train $algo pendulum_medium "$s"; done
    train cql pendulum_medium "$s" -alpha0 --set alpha=0
  done
  # Online: SAC's fast preset (64x64, 12k env steps, learning_starts 1000).
  for s in $seeds; do online Pendulum-v1 pendulum_medium "$s" fast --set eval_interval=1000 --set eval_interval_episodes=10 --set eval_episodes=30; done
fi

if [[ " $envs " == *" llc "* ]]; then
  # The scripted lander (expert), and with 40% uniform actions (medium).
  ds llc_expert --env LunarLanderContinuous-v3 --policy heuristic --episodes 200 --expert heuristic \
    --dataset-id lunarlandercontinuous/expert-v0
  ds llc_medium --env LunarLanderContinuous-v3 --policy heuristic --epsilon 0.4 --episodes 300 --expert heuristic \
    --dataset-id lunarlandercontinuous/medium-v0
  for kind in medium expert; do
    for s in $seeds; do for algo in bc cql iql; do train $algo llc_$kind "$s"; done; done
  done
  # Online: the zoo preset with 64x64 networks, 60k env steps.
  for s in $seeds; do
    online LunarLanderContinuous-v3 llc_medium "$s" "" --steps 60000 --set net_arch=[64,64] --set eval_interval=5000 \
      --set eval_interval_episodes=10 --set eval_episodes=30
  done
fi

# ---- Tables ------------------------------------------------------------------------
python3 - "$seeds" <<'PY'
import csv, glob, json, os, statistics, sys
seeds = sys.argv[1].split()
def vals(pattern):
    return [json.load(open(f))["mean_return"] for s in seeds for f in glob.glob(pattern.format(s=s))]
def cell(pattern):
    v = vals(pattern)
    return f"{statistics.mean(v):.2f} ({min(v):.2f}), n={len(v)}" if v else "-"
print("| dataset | bc mean (min) | cql mean (min) | cql alpha 0 mean (min) | iql mean (min) |")
print("|---|---|---|---|---|")
for ds in ["pendulum_medium", "llc_medium", "llc_expert"]:
    if os.path.isdir(ds):
        print(f"| {ds} | " + " | ".join(cell(f"runs/{a}-{ds}-s{{s}}/eval.json") for a in ["bc", "cql", "cql-alpha0", "iql"]) + " |")
print()
for ds in ["pendulum_medium", "llc_medium"]:
    for how in ["scratch", "replay", "cqlinit"]:
        for s in seeds:
            f = f"runs/sac-{how}-{ds}-s{s}/evaluations.csv"
            if not os.path.exists(f):
                continue
            rows = [(int(r["timesteps"]), float(r["mean_return"])) for r in csv.DictReader(open(f))]
            final = json.load(open(f"runs/sac-{how}-{ds}-s{s}/eval.json"))["mean_return"]
            print(f"  sac {how:8s} {ds} seed {s}: " + ", ".join(f"{t/1000:g}k {v:.0f}" for t, v in rows) + f"; final {final:.2f}")
PY
