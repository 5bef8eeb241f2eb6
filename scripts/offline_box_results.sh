#!/usr/bin/env bash
# The Box-action offline results of docs/offline.md: LunarLanderContinuous-v3
# datasets from the scripted lander, bc, cql (CQL on SAC's networks) and iql
# on each over several seeds (final greedy evaluation: eval.json), then SAC
# fine-tuned online from the CQL run against SAC from scratch. Prints tables;
# keeps everything in OUT.
# Usage: scripts/offline_box_results.sh OUT [SEEDS]
set -euo pipefail
out=$1
seeds=${2:-"0 1 2"}
R=${RLFORGE:-$(cd "$(dirname "$0")/.." && pwd)/build/rlforge}
mkdir -p "$out"
cd "$out"
quiet() { "$@" >/dev/null; }

# ---- Datasets: the scripted lander (expert), and with 40% uniform actions (medium)
ds() { [[ -d $1 ]] || "$R" record --out "$@" | head -1; }
ds llc_expert --env LunarLanderContinuous-v3 --policy heuristic --episodes 200 --expert heuristic \
  --dataset-id lunarlandercontinuous/expert-v0
ds llc_medium --env LunarLanderContinuous-v3 --policy heuristic --epsilon 0.4 --episodes 300 --expert heuristic \
  --dataset-id lunarlandercontinuous/medium-v0

# ---- Offline agents (their presets: 20k updates, 64x64 networks) ------------------
train() {  # algo dataset seed
  local run=runs/$1-$2-s$3
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo "$1" --dataset "$2" --seed "$3" --out "$run" --no-progress; }
}
for kind in medium expert; do
  for algo in bc cql iql; do
    for s in $seeds; do train $algo llc_$kind "$s"; done
  done
done

# ---- Offline to online: SAC (the zoo preset with 64x64 networks, 60k env
# steps) from scratch; with its replay seeded from the medium dataset; and
# warm-started from the CQL run of that dataset, replay seeded too -----------------
online=(--env LunarLanderContinuous-v3 --steps 60000 --set net_arch=[64,64] --set eval_interval=5000
        --set eval_interval_episodes=10 --set eval_episodes=30 --no-progress)
for s in $seeds; do
  run=runs/sac-scratch-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --seed "$s" "${online[@]}" --out "$run"; }
  run=runs/sac-replay-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --seed "$s" "${online[@]}" \
    --set replay_dataset=llc_medium --set learning_starts=0 --out "$run"; }
  run=runs/sac-cqlinit-s$s
  ent=$(python3 -c "import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]['ent_coef'])" \
        runs/cql-llc_medium-s$s/progress.csv)
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo sac --seed "$s" "${online[@]}" \
    --init-from runs/cql-llc_medium-s$s --set replay_dataset=llc_medium --set learning_starts=0 \
    --set ent_coef=auto_$ent --out "$run"; }
done

# ---- Tables ------------------------------------------------------------------------
python3 - "$seeds" <<'PY'
import csv, glob, json, os, statistics, sys
seeds = sys.argv[1].split()
def cell(pattern):
    vals = [json.load(open(f))["mean_return"] for s in seeds for f in glob.glob(pattern.format(s=s))]
    return f"{statistics.mean(vals):.2f} ({min(vals):.2f}), n={len(vals)}" if vals else "-"
def behaviour(ds):
    m = json.load(open(ds + "/metadata.json"))
    return m.get("ref_min_score"), m.get("ref_max_score")
print("| dataset | bc mean (min) | cql mean (min) | iql mean (min) |")
print("|---|---|---|---|")
for kind in ["medium", "expert"]:
    ds = f"llc_{kind}"
    print(f"| {kind} | " + " | ".join(cell(f"runs/{a}-{ds}-s{{s}}/eval.json") for a in ["bc", "cql", "iql"]) + " |")
print()
print("SAC on LunarLanderContinuous-v3: periodic evaluations (10 episodes) and final (30)")
for how in ["scratch", "replay", "cqlinit"]:
    for s in seeds:
        f = f"runs/sac-{how}-s{s}/evaluations.csv"
        if not os.path.exists(f):
            continue
        rows = [(int(r["timesteps"]), float(r["mean_return"])) for r in csv.DictReader(open(f))]
        final = json.load(open(f"runs/sac-{how}-s{s}/eval.json"))["mean_return"]
        print(f"  {how:8s} seed {s}: " + ", ".join(f"{t//1000}k {v:.0f}" for t, v in rows) + f"; final {final:.2f}")
PY
