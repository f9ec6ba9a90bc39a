"""gradus-rl's CartPole against gymnasium's CartPole-v1, step by step and bit for bit.

gymnasium draws its reset states with its own generator, so the episodes are kept in a fixture
(crates/gradus-rl/tests/data/cartpole_gymnasium.json): each episode's start state, the actions
taken and every state, reward and termination gymnasium returned. This script replays the fixture
in gymnasium and requires exactly the recorded numbers; the Rust test `cartpole_gymnasium` replays
the same fixture in gradus-rl's `CartPole` and requires exactly the same numbers. With `--write`
it regenerates the fixture (seeded: random actions, and a balancing controller that reaches the
500-step limit).
"""

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "crates/gradus-rl/tests/data/cartpole_gymnasium.json"


def controller(kind, rng, obs):
    """Random actions, or a linear balancing rule (long episodes, ending by truncation)."""
    if kind == "random":
        return int(rng.integers(2))
    x, x_dot, theta, theta_dot = obs
    return int(0.1 * x + 0.5 * x_dot + 10.0 * theta + 2.0 * theta_dot > 0)


def record(seed, kind):
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    start = [float(v) for v in env.unwrapped.state]
    rng = np.random.default_rng(seed)
    steps = []
    while True:
        action = controller(kind, rng, obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        assert np.array_equal(obs, env.unwrapped.state.astype(np.float32))
        steps.append({"action": action, "state": [float(v) for v in env.unwrapped.state],
                      "reward": float(reward), "terminated": terminated, "truncated": truncated})
        if terminated or truncated:
            return {"seed": seed, "controller": kind, "start": start, "steps": steps}


def replay(episode):
    env = gym.make("CartPole-v1")
    env.reset(seed=episode["seed"])
    assert [float(v) for v in env.unwrapped.state] == episode["start"], "reset state differs"
    for i, s in enumerate(episode["steps"]):
        obs, reward, terminated, truncated, _ = env.step(s["action"])
        state = [float(v) for v in env.unwrapped.state]
        where = f"seed {episode['seed']} step {i}"
        assert state == s["state"], f"{where}: state {state} != {s['state']}"
        assert np.array_equal(obs, np.array(state, dtype=np.float32)), f"{where}: observation"
        assert (float(reward), terminated, truncated) == (s["reward"], s["terminated"], s["truncated"]), where


def main():
    if "--write" in sys.argv:
        episodes = [record(seed, "random") for seed in range(12)]
        episodes += [record(seed, "balance") for seed in (100,)]
        FIXTURE.write_text(json.dumps({"gymnasium": gym.__version__, "env": "CartPole-v1",
                                       "episodes": episodes}, separators=(",", ":")) + "\n")
        print(f"wrote {FIXTURE.name}: {sum(len(e['steps']) for e in episodes)} steps")
    fixture = json.loads(FIXTURE.read_text())
    for episode in fixture["episodes"]:
        replay(episode)
    lengths = [len(e["steps"]) for e in fixture["episodes"]]
    assert max(lengths) == 500 and fixture["episodes"][-1]["steps"][-1]["truncated"]
    print(f"ok: gymnasium {gym.__version__} CartPole-v1 reproduces {len(lengths)} episodes, "
          f"{sum(lengths)} steps, bit for bit")


if __name__ == "__main__":
    main()
