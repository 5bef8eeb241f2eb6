"""Gymnasium's scripted lander (lunar_lander.heuristic) on Gymnasium's
LunarLander-v3 and on rlforge's, the same 100 reset seeds on each.

SB3's DQN scored 153.7 on Gymnasium's port and 73.5 on rlforge's (seeds 0-4,
docs/training.md; rlforge's DQN does about as well on either port, dqn_lunarlander.py),
so this checks controlled flight and landing with one fixed controller: the mean return, the mean length and
how many episodes end in the +100 of coming to rest. Needs Gymnasium's box2d
(box2d-py, pygame) and rlforge's package (PYTHONPATH=build/python):
    PYTHONPATH=build/python python bench/gymnasium/lunarlander_heuristic.py [EPISODES]
"""
import sys

import gymnasium as gym
from gymnasium.envs.box2d.lunar_lander import heuristic

import rlforge
from lander_episodes import play


def main(argv):
    episodes = int(argv[0]) if argv else 100
    controller_env = gym.make("LunarLander-v3")
    for name, make in [("gymnasium", lambda: gym.make("LunarLander-v3")),
                       ("rlforge", lambda: rlforge.make("LunarLander-v3"))]:
        # heuristic() reads only env.unwrapped.continuous from its env argument.
        returns, lengths, rests = play(make, lambda obs: heuristic(controller_env, obs), range(episodes))
        print(f"{name}: return {returns.mean():.2f} +- {returns.std():.2f}, length {lengths.mean():.1f}, "
              f"at rest (+100) in {rests}/{episodes}")


if __name__ == "__main__":
    main(sys.argv[1:])
