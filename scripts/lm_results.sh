#!/usr/bin/env bash
# Reproduces the results of docs/lm.md: for each seed, SFT on noisy
# demonstrations (configs/sft.yaml), then GRPO and PPO-LM from it
# (configs/grpo.yaml, configs/ppo-lm.yaml), and prints one line per run:
# held-out greedy and sampled (temperature 1) exact match (256 prompts, last
# progress row), the final evaluation's success rate (the preset's
# eval_episodes env episodes, greedy), the KL to the reference and the
# wall-clock time.
#   scripts/lm_results.sh OUT_DIR [SEEDS...]                      TextAddition-v0, ~5 min per seed
#   ENV_ID=TextTowerDefense-v0 scripts/lm_results.sh OUT_DIR [SEEDS...]              ~5 min per seed
# With REWARD_MODEL=1 it also trains a reward model (configs/rm.yaml; its
# line shows the held-out pairwise accuracy under "greedy") and runs GRPO and
# PPO-LM rewarded by it instead of the verifier: with the preset's fixed
# kl_coef (grpo+rm, ppo-lm+rm) and with the adaptive KL controller
# (grpo+rm+akl, ppo-lm+rm+akl: kl_coef 0.05, kl_target 0.05, kl_horizon
# 500). Their "vreward" column is the verifier's mean reward of the last rollout.
set -euo pipefail
out=${1:?usage: scripts/lm_results.sh OUT_DIR [SEEDS...]}
shift
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
bin=${RLFORGE:-$(dirname "$0")/../build/rlforge}
env_id=${ENV_ID:-TextAddition-v0}
mkdir -p "$out"
# column NAME of the last row of progress.csv
last() { python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(r[-1][sys.argv[2]] or 'nan')" "$1/progress.csv" "$2"; }
succ() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/eval.json'))['success_rate'])" "$1"; }
algos=(sft grpo ppo-lm)
[ "${REWARD_MODEL:-0}" = 1 ] && algos+=(rm grpo+rm ppo-lm+rm grpo+rm+akl ppo-lm+rm+akl)
akl=(--set kl_coef=0.05 --set kl_target=0.05 --set kl_horizon=500)
printf '%-13s %-5s %8s %8s %8s %8s %8s %7s\n' algo seed greedy sampled eval500 kl vreward seconds
for s in "${seeds[@]}"; do
  for algo in "${algos[@]}"; do
    dir="$out/$algo-$s"
    rm -rf "$dir"
    start=$(date +%s.%N)
    kl=0 vreward=nan
    case "$algo" in
      sft)
        "$bin" train --algo sft --env "$env_id" --seed "$s" --out "$dir" >/dev/null 2>&1 ;;
      rm)
        "$bin" train --algo rm --env "$env_id" --seed "$s" --out "$dir" >/dev/null 2>&1 ;;
      *+rm|*+rm+akl)
        extra=()
        [[ "$algo" == *+akl ]] && extra=("${akl[@]}")
        "$bin" train --algo "${algo%%+*}" --env "$env_id" --seed "$s" --init-from "$out/sft-$s" \
          --set reward_model="$out/rm-$s" "${extra[@]}" --out "$dir" >/dev/null 2>&1
        kl=$(last "$dir" kl) vreward=$(last "$dir" verifier_reward) ;;
      *)
        "$bin" train --algo "$algo" --env "$env_id" --seed "$s" --init-from "$out/sft-$s" --out "$dir" >/dev/null 2>&1
        kl=$(last "$dir" kl) ;;
    esac
    end=$(date +%s.%N)
    if [ "$algo" = rm ]; then
      printf '%-13s %-5s %8.3f %8s %8s %8s %8s %7.1f\n' "$algo" "$s" "$(last "$dir" holdout_accuracy)" - - - - \
        "$(python3 -c "print($end - $start)")"
    else
      printf '%-13s %-5s %8.3f %8.3f %8.3f %8.4f %8s %7.1f\n' "$algo" "$s" "$(last "$dir" eval_accuracy)" \
        "$(last "$dir" eval_sampled_accuracy)" "$(succ "$dir")" "$kl" "$vreward" "$(python3 -c "print($end - $start)")"
    fi
  done
done
