"""rlforge's envs through Gymnasium's API: the env checker, spaces, masks,
rendering, and errors that reach Python as exceptions."""
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlforge

ALL_IDS = rlforge.env_ids()


def test_every_env_is_listed():
    for expected in ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
                     "FrozenLake-v1", "Taxi-v3", "CliffWalking-v1", "TowerDefense-v0", "TicTacToe-v0",
                     "ConnectFour-v0"]:
        assert expected in ALL_IDS


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_passes_gymnasiums_env_checker(env_id):
    env = rlforge.make(env_id)
    assert isinstance(env, gym.Env)
    check_env(env, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                    "Pendulum-v1", "FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"])
def test_spaces_equal_gymnasiums(env_id):
    ours, theirs = rlforge.make(env_id), gym.make(env_id)
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space


def test_gymnasium_make_reaches_rlforge_envs():
    env = gym.make("rlforge/CartPole-v1")
    obs, _ = env.reset(seed=1)
    assert obs.shape == (4,) and obs.dtype == np.float32


def test_gymnasium_specs_say_the_step_limit_and_threshold_as_gymnasiums_own():
    # Wrappers and libraries read env.spec: it once said None for both.
    for env_id in ["CartPole-v1", "LunarLander-v3", "Pendulum-v1"]:
        ours, theirs = gym.make(f"rlforge/{env_id}"), gym.spec(env_id)
        assert ours.spec.max_episode_steps == theirs.max_episode_steps
        assert ours.spec.reward_threshold == theirs.reward_threshold
    # No wrapper hides the env's own methods, and the spec follows a limit
    # given as a kwarg (0: none).
    assert isinstance(gym.make("rlforge/TowerDefense-v0"), rlforge.RlforgeEnv)
    assert rlforge.make("CartPole-v1", max_episode_steps=1000).spec.max_episode_steps == 1000
    assert rlforge.make("CartPole-v1", max_episode_steps=0).spec.max_episode_steps is None
    assert gym.make("rlforge/CartPole-v1", max_episode_steps=30).spec.max_episode_steps == 30
    # Episodes still end truncated at the limit (Pendulum never terminates).
    env = gym.make("rlforge/Pendulum-v1")
    env.reset(seed=0)
    for steps in range(1, 1000):
        _, _, terminated, truncated, _ = env.step(np.zeros(1, np.float32))
        assert not terminated
        if truncated:
            break
    assert steps == 200


def test_reset_with_a_seed_is_deterministic_and_differs_across_seeds():
    env = rlforge.make("CartPole-v1")
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_episode_runs_to_truncation_at_the_time_limit():
    env = rlforge.make("CartPole-v1", max_episode_steps=20)
    env.reset(seed=0)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        _, reward, terminated, truncated, _ = env.step(steps % 2)
        assert reward == 1.0
        steps += 1
    assert steps <= 20 and (terminated or steps == 20)


def test_masked_env_puts_its_mask_in_info():
    env = rlforge.make("TicTacToe-v0")
    _, info = env.reset(seed=0)
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].tolist() == [1] * 9
    assert info["current_player"] == 0
    _, _, _, _, info = env.step(4)
    assert info["action_mask"][4] == 0 and info["current_player"] == 1
    action = env.action_space.sample(mask=info["action_mask"])
    assert action != 4


def test_multidiscrete_masks_come_per_dimension():
    env = rlforge.make("TowerDefense-v0")
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert isinstance(mask, tuple) and len(mask) == len(env.action_space.nvec)
    assert [m.shape[0] for m in mask] == env.action_space.nvec.tolist()
    env.step(env.action_space.sample(mask=mask))


def test_render_modes():
    text = rlforge.make("FrozenLake-v1", render_mode="ansi")
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):  # as Gymnasium's OrderEnforcing
        text.render()
    with pytest.raises(RuntimeError):  # and as rlforge's own step before reset
        text.render()
    text.reset(seed=0)
    assert "S" in text.render()
    image = rlforge.make("CartPole-v1", render_mode="rgb_array")
    image.reset(seed=0)
    frame = image.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    with pytest.raises(ValueError, match="render_mode"):
        rlforge.make("CartPole-v1", render_mode="human")


@pytest.mark.parametrize("action, error", [
    (2, ValueError),                        # out of range
    (-1, ValueError),
    (0.5, ValueError),                      # not an integer
    ("left", ValueError),
    (np.array([0, 1]), ValueError),         # wrong shape
    (None, ValueError),
])
def test_bad_actions_raise_value_errors(action, error):
    env = rlforge.make("CartPole-v1")
    env.reset(seed=0)
    with pytest.raises(error):
        env.step(action)
    env.step(0)  # the env is still usable


def test_discrete_shape_error_names_the_one_element_form_it_takes():
    env = rlforge.make("CartPole-v1")
    env.reset(seed=0)
    env.step(np.array([1]))  # a one-element array is taken as its element
    with pytest.raises(ValueError, match=r"shape \(\) or \(1,\), got \(2,\)"):
        env.step(np.array([0, 1]))
    envs = rlforge.make_vec("CartPole-v1", num_envs=2)
    envs.reset(seed=0)
    envs.step(np.array([[1], [0]]))
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(2, 1\), got \(3,\)"):
        envs.step(np.array([0, 1, 1]))


def test_box_actions_are_checked():
    env = rlforge.make("Pendulum-v1")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError):
        env.step(np.array([np.nan], dtype=np.float32))
    env.step(np.array([5.0]))  # clipped to the bounds, as Gymnasium does


def test_toy_text_state_is_set_from_its_index_and_assignment_is_refused():
    # Gymnasium's `env.unwrapped.s = 14` was taken and changed nothing (a step then moved from the old state).
    ours = rlforge.make("FrozenLake-v1", is_slippery=False)
    theirs = gym.make("FrozenLake-v1", is_slippery=False)
    ours.reset(seed=0)
    theirs.reset(seed=0)
    ours.unwrapped.s = 14  # as Gymnasium's: the toy-text state is the observation
    theirs.unwrapped.s = 14
    assert ours.unwrapped.s == 14
    assert ours.step(2)[:3] == theirs.step(2)[:3] == (15, 1.0, True)
    with pytest.raises(AttributeError, match=r"CartPole-v1 keeps its state in C\+\+: assigning .state would change "
                                             r"nothing; env.unwrapped.set_state_from_observation"):
        rlforge.make("CartPole-v1").unwrapped.state = np.zeros(4)
    # Through a wrapper too (set_wrapper_attr set it on the wrapper, silently).
    wrapped = gym.wrappers.TimeLimit(rlforge.make("FrozenLake-v1", is_slippery=False), 50)
    wrapped.reset(seed=0)
    wrapped.set_wrapper_attr("s", 14)
    assert wrapped.step(2)[:3] == (15, 1.0, True)
    assert wrapped.get_wrapper_attr("s") == 15
    with pytest.raises(RuntimeError, match="before reset"):
        rlforge.make("FrozenLake-v1").unwrapped.set_state_from_observation(3)
    for env_id, state, action in (("Taxi-v4", 328, 1), ("CliffWalking-v1", 35, 2)):
        ours, theirs = rlforge.make(env_id), gym.make(env_id)
        ours.reset(seed=1)
        theirs.reset(seed=1)
        ours.unwrapped.set_state_from_observation(state)
        theirs.unwrapped.s = state
        assert ours.step(action)[:3] == theirs.step(action)[:3], env_id
    with pytest.raises(ValueError):
        ours.unwrapped.set_state_from_observation(48)


def test_cpp_warnings_are_python_warnings():
    # They went to stderr, out of reach of warnings.filterwarnings (Gymnasium's go through warnings).
    for _ in range(2):  # each time: Python's filters decide (stderr has it once a process)
        with pytest.warns(RuntimeWarning, match=r"LunarLander-v3: wind_power 25 is outside 0..20") as caught:
            rlforge.make("LunarLander-v3", enable_wind=True, wind_power=25.0)
        # The caller's line, not rlforge/envs.py.
        assert {w.filename for w in caught if issubclass(w.category, RuntimeWarning)} == {__file__}
    with pytest.warns(RuntimeWarning, match=r"wind_power 26 is outside") as caught:  # through gymnasium.make too
        gym.make("rlforge/LunarLander-v3", enable_wind=True, wind_power=26.0)
    assert {w.filename for w in caught if issubclass(w.category, RuntimeWarning)} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="turbulence_power 3 is outside 0..2"):
            rlforge.make("LunarLander-v3", enable_wind=True, turbulence_power=3.0)


def test_seeds_beyond_2_63_are_their_own():
    # They were taken modulo 2**63: seed 2**63 + 5 drew seed 5's start (as Gymnasium, which keeps every seed).
    options = {"low": -0.05, "high": 0.05}
    env = rlforge.make("CartPole-v1")
    big = env.reset(seed=2**63 + 5, options=options)[0]
    assert env.unwrapped.np_random_seed == 2**63 + 5
    assert big.tolist() != env.reset(seed=5, options=options)[0].tolist()
    envs = rlforge.make_vec("CartPole-v1", num_envs=2)
    envs.reset(seed=2**64 - 2)
    assert envs.np_random_seed == 2**64 - 2
    with pytest.raises(ValueError, match="seed must be"):  # env 1 would wrap to seed 0
        envs.reset(seed=2**64 - 1)


def test_every_int64_descriptor_is_taken_as_an_action():
    # numpy has two int64 descriptors on Linux ('l' and 'q'; onnxruntime
    # returns the second): equal dtypes, distinct objects.
    q = np.dtype("q")
    assert q == np.int64
    env = rlforge.make("CartPole-v1")
    env.reset(seed=0)
    a = env.step(np.array(1, dtype=q))
    env.reset(seed=0)
    assert env.step(np.array(1, dtype=np.int64))[0].tolist() == a[0].tolist()
    td = rlforge.make("TowerDefense-v0")
    td.reset(seed=0)
    td.step(np.array([0, 0, 0, 0], dtype=q))
    envs = rlforge.make_vec("TowerDefense-v0", num_envs=2)
    envs.reset(seed=0)
    envs.step(np.zeros((2, 4), dtype=q))


def test_multi_agent_envs_are_refused_when_made():
    # Arena-v0 with opponent=external needs agent 1's actions every step,
    # which Python has no API for: refused at make, not at the first step.
    for make in (lambda: rlforge.make("Arena-v0", opponent="external"),
                 lambda: rlforge.make_vec("Arena-v0", num_envs=2, opponent="external")):
        with pytest.raises(ValueError, match="2 agents acting at every step"):
            make()
    env = rlforge.make("Arena-v0", opponent="tactic")
    _, info = env.reset(seed=0)
    env.step(env.action_space.sample(mask=info["action_mask"]))


def test_order_errors_and_use_after_close():
    env = rlforge.make("CartPole-v1")
    with pytest.raises(RuntimeError, match="[Rr]eset"):
        env.step(0)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(1)
        done = terminated or truncated
    with pytest.raises(RuntimeError):
        env.step(1)
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()


def test_bad_ids_and_kwargs_name_the_problem():
    with pytest.raises(ValueError, match="CartPole-v9"):
        rlforge.make("CartPole-v9")
    with pytest.raises(ValueError, match="bogus"):
        rlforge.make("CartPole-v1", bogus=1)
    with pytest.raises(ValueError, match="map_size"):
        rlforge.make("FrozenLake-v1", map_name="random", map_size=100000)
    with pytest.raises(ValueError, match="seed"):
        rlforge.make("CartPole-v1").reset(seed=-1)


def test_close_while_another_thread_steps_is_refused():
    """close() from another thread during a step once freed the env under it."""
    import threading
    import time

    class SlowStep(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            time.sleep(0.5)
            return np.zeros(2, np.float32), 0.0, False, False, {}

    env = rlforge.make(rlforge.register_python_env(SlowStep))
    env.reset(seed=0)
    errors = []

    def close_soon():
        time.sleep(0.1)
        try:
            env.close()
        except RuntimeError as e:
            errors.append(str(e))

    t = threading.Thread(target=close_soon)
    t.start()
    obs, *_ = env.step(0)
    t.join()
    assert errors and "another thread" in errors[0]
    assert np.array_equal(obs, np.zeros(2, np.float32))
    env.close()


def test_list_kwargs_are_refused_with_the_format_to_use():
    with pytest.raises(ValueError, match="desc"):
        rlforge.make("FrozenLake-v1", desc=["SF", "FG"])


def test_a_first_reset_without_a_seed_draws_one_from_the_os():
    # As Gymnasium: not the same start in every process and every vector-env copy
    # (they were all one fixed stream); later unseeded resets continue the stream.
    starts = {tuple(rlforge.make("CartPole-v1").reset()[0]) for _ in range(5)}
    assert len(starts) == 5
    envs = rlforge.make_vec("CartPole-v1", num_envs=4)
    obs, _ = envs.reset()
    assert len({tuple(row) for row in obs}) == 4
    other, _ = rlforge.make_vec("CartPole-v1", num_envs=4).reset()
    assert not np.array_equal(obs, other)
    a = rlforge.make_async("CartPole-v1", num_envs=2)
    b = rlforge.make_async("CartPole-v1", num_envs=2)
    assert not np.array_equal(a.reset()[0].copy(), b.reset()[0])
    env = rlforge.make("CartPole-v1")
    seeded = env.reset(seed=3)[0]
    assert np.array_equal(rlforge.make("CartPole-v1").reset(seed=3)[0], seeded)  # a seed still fixes it


@pytest.mark.parametrize("env_id, options, check", [
    ("CartPole-v1", {"low": -0.01, "high": 0.01}, lambda o: np.all(np.abs(o) <= 0.01)),
    ("Acrobot-v1", {"low": 0.5, "high": 0.6},
     lambda o: 0.5 <= np.arctan2(o[1], o[0]) <= 0.6 and 0.5 <= o[4] <= 0.6),
    ("MountainCar-v0", {"low": -0.3, "high": -0.2}, lambda o: -0.3 <= o[0] <= -0.2 and o[1] == 0),
    ("MountainCarContinuous-v0", {"high": -0.5}, lambda o: -0.6 <= o[0] <= -0.5),
    ("Pendulum-v1", {"x_init": 0.1, "y_init": 0.2}, lambda o: o[0] >= np.cos(0.1) - 1e-6 and abs(o[2]) <= 0.2),
])
def test_classic_control_reset_options_bound_the_start_as_gymnasiums(env_id, options, check):
    env = rlforge.make(env_id)
    for seed in range(20):
        obs, _ = env.reset(seed=seed, options=options)
        assert check(obs), (seed, obs)
    # The env goes on from that start: its next observation follows from the one returned.
    obs, _ = env.reset(seed=0, options=options)
    ref = rlforge.make(env_id)
    ref.reset(seed=1)
    ref.set_state_from_observation(obs)
    action = env.action_space.sample()
    np.testing.assert_allclose(env.step(action)[0], ref.step(action)[0], rtol=0, atol=1e-6)


def test_reset_options_that_would_be_ignored_are_refused():
    with pytest.raises(ValueError, match=r"unknown reset options \['bogus'\] for CartPole-v1 \(it takes low and high\)"):
        rlforge.make("CartPole-v1").reset(options={"bogus": 1})
    with pytest.raises(ValueError, match="FrozenLake-v1's reset takes no options"):
        rlforge.make("FrozenLake-v1").reset(options={"low": 0})
    with pytest.raises(ValueError, match="must not exceed high"):
        rlforge.make("CartPole-v1").reset(options={"low": 0.1, "high": -0.1})
    with pytest.raises(ValueError, match="'low' must be a finite number"):
        rlforge.make("CartPole-v1").reset(options={"low": "x"})


def test_render_fps_is_gymnasiums_for_its_envs():
    for env_id in ("CartPole-v1", "Acrobot-v1", "FrozenLake-v1", "CartPoleNoVel-v1", "TowerDefense-v0"):
        theirs = {"CartPole-v1": 50, "Acrobot-v1": 15, "FrozenLake-v1": 4, "CartPoleNoVel-v1": 50}.get(env_id, 30)
        assert rlforge.make(env_id).metadata["render_fps"] == theirs, env_id
    assert gym.make("CartPole-v1").metadata["render_fps"] == 50


def _play(env, info, actions=None, steps=40):
    """Steps env with `actions` (or legal random ones), resetting without a
    seed at episode ends (so the env's own RNG stream is exercised); returns
    the actions and what each step gave."""
    taken, seen = [], []
    for t in range(steps):
        a = actions[t] if actions is not None else env.action_space.sample(mask=info.get("action_mask"))
        obs, reward, terminated, truncated, info = env.step(a)
        if terminated or truncated:
            obs, info = env.reset()
        taken.append(a)
        seen.append((np.array(obs).tolist(), reward, terminated, truncated))
    return taken, seen, info


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_deep_copies_and_pickled_envs_continue_exactly_as_the_original(env_id):
    import copy
    import pickle

    env = rlforge.make(env_id)
    env.action_space.seed(1)
    _, info = env.reset(seed=7)
    info = _play(env, info, steps=5)[2]  # mid-episode, the env's RNG used
    deep, pickled = copy.deepcopy(env), pickle.loads(pickle.dumps(env))
    actions, original, _ = _play(env, info)
    for twin in (deep, pickled):
        assert twin.unwrapped._native is not env.unwrapped._native
        assert _play(twin, {}, actions)[1] == original
    env.close()
    assert not deep.unwrapped._native.closed  # a copy is independent of the original


def test_a_copy_keeps_the_step_count_of_the_time_limit_and_a_closed_env_stays_closed():
    import copy
    import pickle

    env = rlforge.make("CartPole-v1", max_episode_steps=8)
    env.reset(seed=0)
    for _ in range(5):
        env.step(0 if _ % 2 else 1)
    for twin in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        flags = [twin.step(_ % 2)[3] for _ in range(3)]
        assert flags == [False, False, True]  # truncated at step 8, not 5 + 8
    env.close()
    for twin in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        with pytest.raises(RuntimeError, match="closed"):
            twin.reset()


def test_a_python_env_is_not_pickled_as_a_fresh_one():
    import pickle

    env_id = rlforge.register_python_env(lambda: gym.make("CartPole-v1"))
    env = rlforge.make(env_id)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(TypeError, match="cannot pickle .*: a Python env's state cannot be saved"):
        pickle.dumps(env)


class _FloatTupleEnv(gym.Env):
    observation_space = gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Discrete(2)))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return (1.7, 1), {}

    def step(self, action):
        return (1, 1), 0.0, True, False, {}


def test_a_python_envs_fractional_observation_of_an_integer_space_is_refused():
    # (1.7, 1) in a Tuple of Discretes was read as (1, 1) without a word.
    with pytest.raises(RuntimeError, match=r"observation \(1.7, 1\) holds a fraction; its space MultiDiscrete"):
        rlforge.make(rlforge.register_python_env(_FloatTupleEnv)).reset(seed=0)
