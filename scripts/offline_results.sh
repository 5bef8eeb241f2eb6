#!/usr/bin/env bash
# The offline-RL results of docs/offline.md: datasets made with rlforge's own
# agents and scripted policies, then bc, cql and iql trained on each over
# several seeds (final greedy evaluation: eval.json), and PPO fine-tuned from
# a BC clone against PPO from scratch. Prints tables; keeps everything in OUT.
# Usage: scripts/offline_results.sh OUT [SEEDS]   (about 90 minutes wall-clock on 2 cores
# shared with builds, as measured on 2026-11-30; IQL's runs take most of it; the
# TowerDefense half-trained-PPO row, added on 2026-12-01, adds about 20 more)
set -euo pipefail
out=$1
seeds=${2:-"0 1 2 3 4"}
R=${RLFORGE:-$(cd "$(dirname "$0")/.." && pwd)/build/rlforge}
mkdir -p "$out"
cd "$out"
quiet() { "$@" >/dev/null; }

# ---- Datasets ----------------------------------------------------------------
# CartPole-v1: expert = PPO (100k steps, greedy), medium = PPO after 12k steps
# (sampled) with 10% random actions, random = uniform actions.
[[ -d ppo_expert ]] || quiet "$R" train --algo ppo --env CartPole-v1 --seed 0 --out ppo_expert --no-progress
[[ -d ppo_medium ]] || quiet "$R" train --algo ppo --env CartPole-v1 --steps 12000 --seed 0 --out ppo_medium --no-progress
ds() { [[ -d $1 ]] || "$R" record --out "$@" | head -1; }
ds cartpole_expert --policy ppo_expert --deterministic --episodes 100 --ref-max-score 500 --dataset-id cartpole/expert-v0
ds cartpole_medium --policy ppo_medium --epsilon 0.1 --episodes 200 --ref-max-score 500 --dataset-id cartpole/medium-v0
ds cartpole_random --env CartPole-v1 --policy random --episodes 1000 --ref-max-score 500 --dataset-id cartpole/random-v0
# LunarLander-v3: the scripted lander (heuristic) as the expert.
ds lunarlander_expert --env LunarLander-v3 --policy heuristic --episodes 200 --expert heuristic --dataset-id lunarlander/expert-v0
ds lunarlander_medium --env LunarLander-v3 --policy heuristic --epsilon 0.2 --episodes 200 --expert heuristic --dataset-id lunarlander/medium-v0
ds lunarlander_random --env LunarLander-v3 --policy random --episodes 500 --expert heuristic --dataset-id lunarlander/random-v0
# TowerDefense-v0 (masked MultiDiscrete): the scripted defender as the expert;
# medium with 3% random legal actions (normalized score 0.55; 5% gives 0.19).
ds towerdefense_expert --env TowerDefense-v0 --policy heuristic --episodes 100 --expert heuristic --dataset-id towerdefense/expert-v0
ds towerdefense_medium --env TowerDefense-v0 --policy heuristic --epsilon 0.03 --episodes 100 --expert heuristic --dataset-id towerdefense/medium-v0
ds towerdefense_random --env TowerDefense-v0 --policy random --episodes 100 --expert heuristic --dataset-id towerdefense/random-v0
# TowerDefense-v0, medium from a half-trained agent (as CartPole's): PPO's preset
# env (ticks_per_step 4, strict) from scratch, without the heuristic's
# demonstrations, stopped at 36,864 steps, where its greedy policy loses every
# game and its sampled one wins some; recorded sampled (the sampling is the noise).
[[ -d ppo_td_medium ]] || quiet "$R" train --algo ppo --env TowerDefense-v0 --set pretrain_policy= --steps 36864 --seed 0 \
  --out ppo_td_medium --no-progress
ds towerdefense_ppo --policy ppo_td_medium --episodes 200 --expert heuristic --dataset-id towerdefense/medium-ppo-v0

# ---- Offline agents --------------------------------------------------------------
train() {  # algo dataset seed
  local run=runs/$1-$2-s$3
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo "$1" --dataset "$2" --seed "$3" --out "$run" --no-progress; }
}
for env in cartpole lunarlander towerdefense; do
  for kind in medium expert random; do
    for algo in bc cql iql; do
      for s in $seeds; do train $algo ${env}_$kind "$s"; done
    done
  done
done
for algo in bc cql iql; do
  for s in $seeds; do train $algo towerdefense_ppo "$s"; done
done

# ---- Offline to online: PPO from scratch vs from the BC clone of the medium data
for s in $seeds; do
  [[ -d runs/bc-cartpole_medium-s$s ]] || continue
  run=runs/ppo-scratch-preset-s$s  # the preset's own learning rate (lin_1e-3)
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo ppo --env CartPole-v1 --seed "$s" --steps 30000 \
    --set eval_interval=2048 --set eval_interval_episodes=10 --out "$run" --no-progress; }
  for lr in 3e-4 1e-4; do
    run=runs/ppo-scratch-lr$lr-s$s
    [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo ppo --env CartPole-v1 --seed "$s" --steps 30000 \
      --set learning_rate=$lr --set eval_interval=2048 --set eval_interval_episodes=10 --out "$run" --no-progress; }
    run=runs/ppo-bcinit-lr$lr-s$s
    [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo ppo --env CartPole-v1 --seed "$s" --steps 30000 \
      --init-from runs/bc-cartpole_medium-s$s --set learning_rate=$lr --set eval_interval=2048 \
      --set eval_interval_episodes=10 --out "$run" --no-progress; }
  done
done
# ---- Offline to online: DQN (its zoo preset, 50k steps) from scratch vs from the CQL run of the medium data
for s in $seeds; do
  [[ -d runs/cql-cartpole_medium-s$s ]] || continue
  run=runs/dqn-scratch-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo dqn --env CartPole-v1 --seed "$s" \
    --set eval_interval=2048 --set eval_interval_episodes=10 --out "$run" --no-progress; }
  run=runs/dqn-cqlinit-s$s
  [[ -f $run/eval.json ]] || { rm -rf "$run"; quiet "$R" train --algo dqn --env CartPole-v1 --seed "$s" \
    --init-from runs/cql-cartpole_medium-s$s --set exploration_initial_eps=0.05 --set eval_interval=2048 \
    --set eval_interval_episodes=10 --out "$run" --no-progress; }
done

# ---- Tables ------------------------------------------------------------------------
python3 - "$seeds" <<'PY'
import csv, glob, json, os, statistics, sys
seeds = sys.argv[1].split()
def behaviour(ds):
    return json.load(open(ds + "/metadata.json")), None
print("| env | dataset | behaviour return | bc mean (min) | cql mean (min) | iql mean (min) |")
print("|---|---|---|---|---|---|")
for env in ["cartpole", "lunarlander", "towerdefense"]:
    for kind in ["medium", "expert", "random"] + (["ppo"] if env == "towerdefense" else []):
        ds = f"{env}_{kind}"
        if not os.path.isdir(ds):
            continue
        import subprocess
        rep = json.loads(subprocess.run([os.environ.get("RLFORGE", "rlforge"), "inspect", ds, "--json",
                                         "--replay-episodes", "0"], capture_output=True, text=True).stdout or "{}") \
            if os.environ.get("RLFORGE") else {}
        beh = rep.get("score", {}).get("mean_return")
        cells = []
        for algo in ["bc", "cql", "iql"]:
            vals = [json.load(open(f))["mean_return"] for s in seeds
                    for f in glob.glob(f"runs/{algo}-{ds}-s{s}/eval.json")]
            cells.append(f"{statistics.mean(vals):.2f} ({min(vals):.2f}), n={len(vals)}" if vals else "-")
        print(f"| {env} | {kind} | {beh if beh is None else round(beh, 2)} | " + " | ".join(cells) + " |")
print()
print("PPO and DQN on CartPole-v1: first env step at which a periodic evaluation (10 episodes) reached 475, per seed")
for lr, how in [("", "scratch-preset"), ("3e-4", "scratch"), ("3e-4", "bcinit"), ("1e-4", "scratch"),
                ("1e-4", "bcinit"), ("", "dqn-scratch"), ("", "dqn-cqlinit")]:
    if True:
        firsts, finals = [], []
        for s in seeds:
            agent = "dqn" if how.startswith("dqn") else "ppo"
            name = f"runs/{how}-s{s}" if agent == "dqn" else (
                f"runs/ppo-{how}-s{s}" if not lr else f"runs/ppo-{how}-lr{lr}-s{s}")
            f = name + "/evaluations.csv"
            if not os.path.exists(f):
                continue
            rows = list(csv.DictReader(open(f)))
            hit = [int(r["timesteps"]) for r in rows if float(r["mean_return"]) >= 475]
            firsts.append(hit[0] if hit else 10**9)
            finals.append(json.load(open(name + "/eval.json"))["mean_return"])
        if firsts:
            shown = [("never" if x == 10**9 else str(x)) for x in firsts]
            print(f"  {how:14s} lr {lr or 'preset'}: first >= 475 at {shown}; final (100 episodes) mean {statistics.mean(finals):.1f} min {min(finals):.1f}")
PY
