"""SAC/TD3/DDPG and LunarLander from Python: training through the same runner,
predictions inside the Box, and LunarLander's spaces as Gymnasium declares
them (Gymnasium's own LunarLander needs Box2D's Python build, which the test
environment does not have, so the spaces are written out here)."""
import numpy as np
import pytest

import rlforge


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_off_policy_agents_train_and_predict_in_bounds(tmp_path, algo):
    r = rlforge.train(algo, "Pendulum-v1", out=str(tmp_path / algo), steps=400, seed=3,
                      config={"learning_starts": 100, "net_arch": [16, 16], "batch_size": 32,
                              "eval_episodes": 1})
    assert r["timesteps"] == 400
    policy = rlforge.load(str(tmp_path / algo))
    env = rlforge.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs)
    assert action.shape == (1,) and action.dtype == np.float32
    assert -2.0 <= float(action[0]) <= 2.0


def test_lunar_lander_spaces_and_heuristic_episode():
    env = rlforge.make("LunarLander-v3")
    assert env.action_space.n == 4
    low = np.array([-2.5, -2.5, -10.0, -10.0, -2 * np.pi, -10.0, -0.0, -0.0], dtype=np.float32)
    np.testing.assert_array_equal(env.observation_space.low, low)
    cont = rlforge.make("LunarLanderContinuous-v3")
    assert cont.action_space.shape == (2,)
    obs, _ = cont.reset(seed=5)
    assert obs.shape == (8,) and obs.dtype == np.float32
    total, done = 0.0, False
    while not done:  # full throttle up, no side engines: flies off or lands, never hangs
        obs, r, term, trunc, _ = cont.step(np.array([1.0, 0.0], dtype=np.float32))
        total += r
        done = term or trunc
    assert np.isfinite(total)
    with pytest.raises(ValueError):
        rlforge.make("LunarLander-v3", gravity=-20.0)


def test_car_racing_pixels_and_actions():
    env = rlforge.make("CarRacing-v3")
    assert env.observation_space.shape == (96, 96, 3)
    assert env.observation_space.dtype == np.uint8
    np.testing.assert_array_equal(env.action_space.low, np.array([-1, 0, 0], dtype=np.float32))
    obs, _ = env.reset(seed=3)
    assert obs.shape == (96, 96, 3) and obs.dtype == np.uint8
    total = 0.0
    for _ in range(60):  # full gas, straight on: the car reaches new tiles
        obs, r, term, trunc, _ = env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
        total += r
        assert not (term or trunc)
    assert total > 0
    # The car sits at (48, 72) in the view, red; the bottom rows are the black indicator bar.
    assert obs[66:78, 44:52, 0].max() > 150
    assert obs[95, 90].tolist() == [0, 0, 0]
    discrete = rlforge.make("CarRacing-v3", continuous=False)
    assert discrete.action_space.n == 5
    discrete.reset(seed=0)
    with pytest.raises(Exception, match="action"):
        discrete.step(7)
