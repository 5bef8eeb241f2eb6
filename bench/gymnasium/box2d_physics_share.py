"""How much of a Gymnasium Box2D step is Box2D's own solver (b2World.Step)?

The solver is the same C++ library in Gymnasium and in rlforge (2.3 there,
2.4 here) with the same iteration counts, so its time per step bounds how
far any reimplementation of these envs can outrun Gymnasium's. Wraps the
env's world in a proxy that times Step(), steps random actions, prints steps/s
and the solver's share. Run (gymnasium and box2d from PyPI):
    python bench/gymnasium/box2d_physics_share.py LunarLander-v3 20000
"""
import sys
import time

import gymnasium as gym


class TimedWorld:
    """Forwards everything to the wrapped b2World; accumulates Step's time."""

    def __init__(self, world):
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "seconds", 0.0)

    def Step(self, *args):
        t0 = time.perf_counter()
        self._world.Step(*args)
        object.__setattr__(self, "seconds", self.seconds + time.perf_counter() - t0)

    def __getattr__(self, name):
        return getattr(self._world, name)

    def __setattr__(self, name, value):
        setattr(self._world, name, value)


def main(env_id, steps):
    env = gym.make(env_id)
    env.action_space.seed(0)
    inner = env.unwrapped
    seconds = [0.0]
    current = [None]
    reset = inner.reset

    def timed_reset(*args, **kwargs):
        # LunarLander makes a new world at every reset: wrap whichever is there.
        out = reset(*args, **kwargs)
        if inner.world is not current[0]:
            if current[0] is not None:
                seconds[0] += current[0].seconds
            current[0] = TimedWorld(inner.world)
            inner.world = current[0]
        return out

    inner.reset = timed_reset
    actions = [env.action_space.sample() for _ in range(steps)]
    env.reset(seed=1)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    total = time.perf_counter() - t0
    solver = seconds[0] + current[0].seconds
    print(f"{env_id}: {steps / total:.0f} steps/s, {1e6 * total / steps:.1f} us/step, "
          f"b2World.Step {1e6 * solver / steps:.1f} us/step ({100 * solver / total:.1f}%); "
          f"ceiling of a native port with no other cost: {total / solver:.1f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "LunarLander-v3",
         int(sys.argv[2]) if len(sys.argv) > 2 else 20000)
