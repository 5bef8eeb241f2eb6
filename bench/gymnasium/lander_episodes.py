"""Episodes of a LunarLander controller, shared by the bench scripts beside it."""
import numpy as np


def play(make_env, act, seeds):
    """Plays one episode per reset seed, each in a fresh env from make_env(),
    choosing actions by act(obs). Returns the episodes' returns and lengths
    (arrays) and how many ended at rest (terminated with the +100)."""
    returns, lengths, rests = [], [], 0
    for seed in seeds:
        env = make_env()
        obs, _ = env.reset(seed=seed)
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total, steps = total + reward, steps + 1
            if terminated or truncated:
                rests += terminated and reward == 100
                break
        returns.append(total)
        lengths.append(steps)
    return np.array(returns), np.array(lengths), rests
