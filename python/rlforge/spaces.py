"""rlforge's spaces as gymnasium.spaces objects, and values checked against them."""
from __future__ import annotations

import numpy as np
from gymnasium import spaces


def to_gymnasium(d: dict, seed: int | None = None) -> spaces.Space:
    """The gymnasium space of a space dict from the native module."""
    kind = d["kind"]
    if kind == "Discrete":
        return spaces.Discrete(d["n"], start=d["start"], seed=seed)
    if kind == "Box":
        shape = tuple(d["shape"])
        low = np.asarray(d["low"], dtype=np.float64).reshape(shape).astype(d["dtype"])
        high = np.asarray(d["high"], dtype=np.float64).reshape(shape).astype(d["dtype"])
        return spaces.Box(low=low, high=high, shape=shape, dtype=np.dtype(d["dtype"]), seed=seed)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(d["nvec"], dtype=np.int64), seed=seed)
    if kind == "MultiBinary":
        return spaces.MultiBinary(d["n"], seed=seed)
    raise ValueError(f"unknown space kind {kind!r}")


def check_int(name: str, value, low: int, high: int) -> int:
    """`value` as an int in [low, high], or ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def as_native(value, space: dict, batch: int | None, what: str) -> np.ndarray:
    """`value` as the contiguous array the native env reads (one element, or
    `batch` of them), or ValueError naming what is wrong with it."""
    shape = tuple(space["shape"]) if batch is None else (batch, *space["shape"])
    dtype = np.dtype(space["dtype"])
    if (type(value) is np.ndarray and value.dtype == dtype and value.shape == shape
            and value.flags.c_contiguous):
        return value  # the fast path: already what the native env reads
    a = np.asarray(value)
    if a.dtype == object:
        if isinstance(value, (int, np.integer)):
            raise ValueError(f"{what} {value} is out of range")
        raise ValueError(f"{what} must be numeric, got {type(value).__name__}")
    if space["kind"] in ("Discrete", "MultiDiscrete", "MultiBinary"):
        if a.dtype.kind == "f" and a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)  # 1.0 is accepted as 1, as numpy would index with it
        if a.dtype.kind not in "iub":
            raise ValueError(f"{what} must be integers for a {space['kind']} space, got {a.dtype}")
        if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{what} {a.max()} is out of range")
    elif a.dtype.kind not in "iuf":
        raise ValueError(f"{what} must be numbers for a Box space, got {a.dtype}")
    if a.shape != shape:
        if batch is None and space["kind"] == "Discrete" and a.shape == (1,):
            a = a.reshape(())
        elif batch is not None and space["kind"] == "Discrete" and a.shape == (batch, 1):
            a = a.reshape(batch)
        elif space["kind"] == "Discrete":  # the one-element forms above are taken too: say so
            also = (1,) if batch is None else (batch, 1)
            raise ValueError(f"{what} must have shape {shape} or {also}, got {a.shape}")
        else:
            raise ValueError(f"{what} must have shape {shape}, got {a.shape}")
    return np.ascontiguousarray(a, dtype=dtype)


def split_mask(mask: np.ndarray, space: dict):
    """A flat mask as the action space's `sample(mask=...)` takes it: the array
    for Discrete, a tuple of per-dimension arrays for MultiDiscrete (the last
    axis split at the dimensions' sizes)."""
    if space["kind"] != "MultiDiscrete":
        return mask
    bounds = np.cumsum(space["nvec"])[:-1]
    return tuple(np.split(mask, bounds, axis=-1))
