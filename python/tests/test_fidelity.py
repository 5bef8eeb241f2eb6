"""Faithfulness to Gymnasium itself: the same state, the same actions, the
same observations, rewards and flags, step by step over whole episodes."""
import math

import gymnasium as gym
import numpy as np
import pytest

import rlforge


def _gym_state(env_id, obs):
    """Gymnasium's internal state for the rlforge state set from `obs` (float32
    values read as doubles; angles through atan2 as rlforge computes them)."""
    o = [float(x) for x in obs]
    if env_id == "Pendulum-v1":
        return np.array([math.atan2(o[1], o[0]), o[2]])
    if env_id == "Acrobot-v1":
        return np.array([math.atan2(o[1], o[0]), math.atan2(o[3], o[2]), o[4], o[5]])
    return np.array(o, dtype=np.float64)


def _actions(env_id, rng, t):
    if env_id in ("Pendulum-v1", "MountainCarContinuous-v0"):
        # Inside and outside the bounds: Gymnasium clips inside step.
        return np.array([rng.uniform(-3.0, 3.0)], dtype=np.float32)
    n = {"CartPole-v1": 2, "Acrobot-v1": 3, "MountainCar-v0": 3}[env_id]
    return int(rng.integers(n))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
                                    "Acrobot-v1"])
def test_classic_control_steps_match_gymnasium_exactly(env_id):
    rng = np.random.default_rng(7)
    theirs = gym.make(env_id).unwrapped  # no time limit on either side
    ours = rlforge.make(env_id, max_episode_steps=0)
    compared = 0
    for episode in range(100):
        if compared >= 300:
            break
        obs, _ = ours.reset(seed=episode)
        theirs.reset(seed=episode)
        theirs.state = _gym_state(env_id, obs)
        ours.set_state_from_observation(obs)  # both now hold the same doubles
        if env_id == "Pendulum-v1":
            theirs.last_u = None
        for t in range(300):
            a = _actions(env_id, rng, t)
            o1, r1, te1, tr1, _ = ours.step(a)
            o2, r2, te2, tr2, _ = theirs.step(a)
            assert o1.dtype == o2.dtype == np.float32
            assert np.array_equal(o1, o2), f"{env_id} episode {episode} step {t}: {o1} != {o2}"
            assert r1 == pytest.approx(float(r2), rel=0, abs=1e-12), f"{env_id} step {t}: reward {r1} != {r2}"
            assert (te1, tr1) == (bool(te2), bool(tr2))
            compared += 1
            if te1:
                break
    assert compared >= 300


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"])
def test_toy_text_dynamics_match_gymnasium(env_id):
    """Replays the same action sequences from the same start states (rlforge's
    start, set in Gymnasium) on deterministic maps: observations, rewards and
    flags agree at every step."""
    kwargs = {"is_slippery": False} if env_id == "FrozenLake-v1" else {}
    ours = rlforge.make(env_id, max_episode_steps=0, **kwargs)
    theirs = gym.make(env_id, **kwargs).unwrapped
    rng = np.random.default_rng(3)
    for episode in range(20):
        obs, _ = ours.reset(seed=episode)
        theirs.reset(seed=episode)
        theirs.s = obs
        for t in range(100):
            a = int(rng.integers(ours.action_space.n))
            o1, r1, te1, tr1, _ = ours.step(a)
            o2, r2, te2, tr2, _ = theirs.step(a)
            assert (o1, r1, te1) == (int(o2), float(r2), bool(te2)), f"{env_id} episode {episode} step {t}"
            if te1:
                break


def _merged(outcomes):
    """Outcomes of one (s, a) as {(next, reward, terminated): total prob} (Gymnasium lists
    slippery FrozenLake's repeated outcomes separately)."""
    out = {}
    for prob, nxt, reward, terminated in outcomes:
        key = (int(nxt), float(reward), bool(terminated))
        out[key] = out.get(key, 0.0) + float(prob)
    return out


@pytest.mark.parametrize("env_id, kwargs", [
    ("FrozenLake-v1", {}), ("FrozenLake-v1", {"is_slippery": False}), ("FrozenLake-v1", {"map_name": "8x8"}),
    ("FrozenLake8x8-v1", {}), ("Taxi-v4", {}), ("CliffWalking-v1", {}), ("CliffWalking-v1", {"is_slippery": True}),
])
def test_toy_text_transition_tables_equal_gymnasiums(env_id, kwargs):
    ours = rlforge.make(env_id, **kwargs)
    theirs = gym.make(env_id, **kwargs).unwrapped
    P = ours.P
    assert set(P) == set(theirs.P)
    for s in theirs.P:
        assert set(P[s]) == set(theirs.P[s])
        for a in theirs.P[s]:
            mine, ref = _merged(P[s][a]), _merged(theirs.P[s][a])
            assert mine.keys() == ref.keys(), f"{env_id} s={s} a={a}: {mine} != {ref}"
            for k in ref:
                assert mine[k] == pytest.approx(ref[k], abs=1e-12), f"{env_id} s={s} a={a} {k}"
    assert np.allclose(ours.initial_state_distribution, theirs.initial_state_distrib, atol=1e-12)


class _ScriptedCards:
    """Stands in for Gymnasium's np_random in Blackjack: choice() deals the
    scripted cards in turn and raises _NeedCard when the script runs out."""

    def __init__(self, cards):
        self.cards, self.i = list(cards), 0

    def choice(self, deck):
        if self.i == len(self.cards):
            raise _NeedCard
        self.i += 1
        return self.cards[self.i - 1]


class _NeedCard(Exception):
    pass


def _gymnasium_blackjack_outcomes(theirs, player, dealer_up, action):
    """The exact outcomes of Gymnasium's own step from these hands: every
    sequence of cards it can draw (the dealer's hidden one first, each value's
    probability 1/13, a ten's 4/13), as {(obs, reward, terminated): prob}."""
    weight = {c: (4 if c == 10 else 1) / 13 for c in range(1, 11)}
    out = {}
    for hidden in range(1, 11):
        stack = [[]]
        while stack:
            script = stack.pop()
            theirs.player, theirs.dealer = list(player), [dealer_up, hidden]
            theirs.np_random = _ScriptedCards(script)
            try:
                obs, reward, terminated, _, _ = theirs.step(action)
            except _NeedCard:
                stack.extend(script + [c] for c in range(1, 11))
                continue
            p = weight[hidden] * math.prod(weight[c] for c in script)
            key = (tuple(int(x) for x in obs), float(reward), bool(terminated))
            out[key] = out.get(key, 0.0) + p
    return out


def _blackjack_hand(total, usable):
    """Cards with this sum and (un)usable ace: [1, 10] for soft 21, [10, 9, 2] for hard 21."""
    if usable:
        return [1, total - 11]
    if total <= 11:
        return [2, total - 2]
    return [10, total - 10] if total <= 20 else [10, 9, 2]


def test_blackjack_transition_table_equals_gymnasiums_own_steps():
    """rlforge's Blackjack-v1 table (built by its own arithmetic) against the
    exact outcome distributions of Gymnasium's step code, enumerated over every
    card it can draw, for every observation a player can see and both actions."""
    ours = rlforge.make("Blackjack-v1", sab=False)  # gym.make's sab=True has no exact table
    theirs = gym.make("Blackjack-v1", sab=False).unwrapped
    theirs.reset(seed=0)
    assert rlforge.make("Blackjack-v1").P is None
    P = ours.P
    compared = 0
    for usable in (0, 1):
        for total in range(12 if usable else 4, 22):
            # One hand per observation: the table's claim is that any such hand behaves alike.
            player = _blackjack_hand(total, usable)
            for up in range(1, 11):
                s = int(np.ravel_multi_index((total, up, usable), (32, 11, 2)))
                for action in (0, 1):
                    ref = _gymnasium_blackjack_outcomes(theirs, player, up, action)
                    mine = {}
                    for prob, nxt, reward, terminated in P[s][action]:
                        key = (tuple(int(x) for x in np.unravel_index(nxt, (32, 11, 2))), float(reward), bool(terminated))
                        mine[key] = mine.get(key, 0.0) + prob
                    assert mine.keys() == ref.keys(), f"obs {(total, up, usable)} action {action}"
                    for k in ref:
                        assert mine[k] == pytest.approx(ref[k], abs=1e-12), f"obs {(total, up, usable)} {action} {k}"
                    compared += 1
    assert compared == (18 + 10) * 10 * 2


@pytest.mark.parametrize("kwargs", [{}, {"sab": False}, {"sab": False, "natural": True}, {"natural": True}])
def test_blackjack_returns_match_gymnasiums_under_each_rule(kwargs):
    """Always sticking, returns agree with Gymnasium's within 4 standard
    errors over all deals and over the natural ones, (21, d, 1) at reset,
    where the rules differ (by 0.05 to 0.5); a single env shows Gymnasium's
    Tuple observations."""
    if kwargs.get("natural") and kwargs.get("sab", True):
        with pytest.warns(RuntimeWarning, match="natural=true has no effect with sab=true"):
            ours = rlforge.make("Blackjack-v1", **kwargs)
    else:
        ours = rlforge.make("Blackjack-v1", **kwargs)
    theirs = gym.make("Blackjack-v1", **kwargs)
    assert ours.observation_space == theirs.observation_space
    n = 40000
    results = []
    for env in (ours, theirs):
        returns, natural = np.zeros(n), np.zeros(n, dtype=bool)
        obs, _ = env.reset(seed=5)
        for episode in range(n):
            if episode:
                obs, _ = env.reset()
            assert isinstance(obs, tuple) and all(type(x) is int for x in obs)
            natural[episode] = obs[0] == 21 and obs[2] == 1  # two cards only: an ace and a ten
            _, returns[episode], terminated, _, _ = env.step(0)
            assert terminated
        results.append((returns, natural))
    for subset in ("all", "natural"):
        a, b = ((r if subset == "all" else r[nat]) for r, nat in results)
        assert len(a) > 1000 and len(b) > 1000
        se = math.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se, (subset, a.mean(), b.mean())
    if kwargs.get("natural") and kwargs.get("sab") is False:
        assert (results[0][0] == 1.5).any()  # the bonus is paid
