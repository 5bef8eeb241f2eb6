"""Dumps scenes of Gymnasium's CarRacing-v3 with the 96x96 observation its
renderer draws for each, so that rlforge's renderer can be checked against
Gymnasium's pixels on the same scene (rlforge/envs/box2d/car_racing_test.cc
reads the file this writes). Needs gymnasium, box2d and pygame (PyPI); run:
    python bench/gymnasium/car_racing_scenes.py rlforge/envs/box2d/testdata/car_racing_gymnasium.json

A scene is what the renderer reads: the ground polygons (playfield, grass,
road tiles and kerbs, in drawing order, world coordinates), the car's
polygons (wheels, their grey rotation bands, the hull), the camera (car pose,
time since reset) and the indicator values. Polygons out of view are left
out (they draw nothing).
"""
import base64
import json
import math
import sys

import gymnasium as gym
import numpy as np
from gymnasium.envs.box2d import car_dynamics as cd
from gymnasium.envs.box2d import car_racing as cr


def r5(v):
    return round(float(v), 5)


def scene_of(u):
    car = u.car
    hull = car.hull
    zoom = 0.1 * cr.SCALE * max(1 - u.t, 0) + cr.ZOOM * cr.SCALE * min(u.t, 1)
    view = math.hypot(cr.WINDOW_W / 2, cr.WINDOW_H * 3 / 4) / zoom + 1.0
    cx, cy = hull.position

    def visible(pts):
        mx = sum(p[0] for p in pts) / len(pts)
        my = sum(p[1] for p in pts) / len(pts)
        rad = max(math.hypot(p[0] - mx, p[1] - my) for p in pts)
        return math.hypot(mx - cx, my - cy) - rad <= view

    ground = []
    b = cr.PLAYFIELD
    ground.append([[[b, b], [b, -b], [-b, -b], [-b, b]], [int(c) for c in u.bg_color]])
    g = cr.GRASS_DIM
    for x in range(-20, 20, 2):
        for y in range(-20, 20, 2):
            pts = [[g * x + g, g * y], [g * x, g * y], [g * x, g * y + g], [g * x + g, g * y + g]]
            if visible(pts):
                ground.append([pts, [int(c) for c in u.grass_color]])
    for poly, color in u.road_poly:
        pts = [[r5(p[0]), r5(p[1])] for p in poly]
        if visible(pts):
            ground.append([pts, [int(c) for c in color]])
    cars = []
    for obj in car.drawlist:
        for f in obj.fixtures:
            trans = f.body.transform
            cars.append([[[r5(v[0]), r5(v[1])] for v in (trans * v for v in f.shape.vertices)],
                         [int(c * 255) for c in obj.color]])
            if "phase" not in obj.__dict__:
                continue
            a1, a2 = obj.phase, obj.phase + 1.2
            s1, s2, c1, c2 = math.sin(a1), math.sin(a2), math.cos(a1), math.cos(a2)
            if s1 > 0 and s2 > 0:
                continue
            if s1 > 0:
                c1 = np.sign(c1)
            if s2 > 0:
                c2 = np.sign(c2)
            W, R, S = cd.WHEEL_W, cd.WHEEL_R, cd.SIZE
            band = [(-W * S, R * c1 * S), (W * S, R * c1 * S), (W * S, R * c2 * S), (-W * S, R * c2 * S)]
            cars.append([[[r5(v[0]), r5(v[1])] for v in (trans * v for v in band)], list(cd.WHEEL_WHITE)])
    v = hull.linearVelocity
    return {
        "t": u.t, "car": [cx, cy, hull.angle], "ground": ground, "cars": cars,
        "speed": float(np.sqrt(np.square(v[0]) + np.square(v[1]))),
        "omega": [w.omega for w in car.wheels], "steer": car.wheels[0].joint.angle,
        "yaw": hull.angularVelocity, "score": u.reward,
    }


def main(out):
    env = gym.make("CarRacing-v3")
    u = env.unwrapped
    scenes = []
    # (seed, steps, policy): the zoomed-out first frame, a straight start, driving, a spin on the grass.
    for seed, steps, kind in [(0, 0, "none"), (1, 40, "gas"), (2, 120, "drive"), (3, 200, "spin"), (4, 90, "drive")]:
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for k in range(steps):
            if kind == "gas":
                a = np.array([0.0, 0.6, 0.0], dtype=np.float32)
            elif kind == "spin":
                a = np.array([1.0, 1.0, 0.0], dtype=np.float32)
            else:
                a = np.array([rng.uniform(-0.5, 0.5), rng.uniform(0.2, 0.8), 0.0], dtype=np.float32)
            env.step(a)
        scene = scene_of(u)
        pixels = u._render("state_pixels")  # drawn now, with the score as it stands
        scene["seed"], scene["steps"] = seed, steps
        scene["obs"] = base64.b64encode(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).decode()
        scenes.append(scene)
    with open(out, "w") as f:
        json.dump({"gymnasium": gym.__version__, "scenes": scenes}, f)


if __name__ == "__main__":
    main(sys.argv[1])
