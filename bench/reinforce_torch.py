"""REINFORCE with a learned baseline on gymnasium's CartPole-v1, in PyTorch, with the design of
gradus's `gradus_rl::train` (crates/gradus-rl/src/reinforce.rs, `ReinforceConfig::default()`):

- policy and value networks Linear(4, 128) -> ReLU -> Linear(128, out), PyTorch default init;
- one update per episode: policy loss -mean_t(log pi(a_t|s_t) A_t) (entropy bonus weight 0, as
  gradus's default), A_t = G_t - V(s_t) normalized to mean 0 / std 1 over the episode (std + 1e-8);
  value loss mean_t((v(s_t) - (1 - gamma) G_t)^2) with V = v / (1 - gamma);
- gamma 0.99, Adam lr 5e-3 (policy) and 1e-2 (value), torch's default betas/eps;
- a truncated episode (500 steps) is bootstrapped with V of its last observation;
- solved when the mean return of the last 100 episodes reaches 475 (training stops there),
  at most 2000 episodes.

Seeds: torch.manual_seed(seed) for init and action sampling, env.reset(seed=seed) once and then
unseeded resets (gymnasium's convention), so the random streams differ from gradus's: compare
distributions over seeds, not single runs.

    bench/.venv/bin/python bench/reinforce_torch.py [SEEDS=5]
"""

import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn

HIDDEN, POLICY_LR, VALUE_LR, GAMMA = 128, 5e-3, 1e-2, 0.99
ENTROPY_COEF, MAX_EPISODES, SOLVED_RETURN, WINDOW = 0.0, 2000, 475.0, 100


def mlp(n_in, n_out):
    return nn.Sequential(nn.Linear(n_in, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_out))


def discounted_returns(rewards, tail):
    g, out = tail, [0.0] * len(rewards)
    for t in reversed(range(len(rewards))):
        g = rewards[t] + GAMMA * g
        out[t] = g
    return out


def train(seed):
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    policy, value = mlp(4, 2), mlp(4, 1)
    p_opt = torch.optim.Adam(policy.parameters(), lr=POLICY_LR)
    v_opt = torch.optim.Adam(value.parameters(), lr=VALUE_LR)
    returns = []
    obs, _ = env.reset(seed=seed)
    for episode in range(1, MAX_EPISODES + 1):
        if episode > 1:
            obs, _ = env.reset()
        observations, actions, rewards = [], [], []
        while True:
            x = torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)
            with torch.no_grad():
                probs = policy(x).softmax(1)
            action = int(torch.multinomial(probs[0], 1))
            observations.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            if terminated or truncated:
                break
        x = torch.as_tensor(np.array(observations), dtype=torch.float32)
        tail = 0.0
        if truncated and not terminated:
            with torch.no_grad():
                last = torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)
                tail = float(value(last)) / (1.0 - GAMMA)
        g = torch.tensor(discounted_returns(rewards, tail), dtype=torch.float64)
        with torch.no_grad():
            v = value(x).squeeze(1).double() / (1.0 - GAMMA)
        adv = g - v
        if len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
        logp = policy(x).log_softmax(1)
        a = torch.as_tensor(actions).unsqueeze(1)
        loss = -(logp.gather(1, a).squeeze(1) * adv.float()).mean()
        if ENTROPY_COEF > 0:
            loss = loss - ENTROPY_COEF * -(logp.exp() * logp).sum(1).mean()
        p_opt.zero_grad()
        loss.backward()
        p_opt.step()
        target = (g * (1.0 - GAMMA)).float().unsqueeze(1)
        v_loss = ((value(x) - target) ** 2).mean()
        v_opt.zero_grad()
        v_loss.backward()
        v_opt.step()
        returns.append(sum(rewards))
        window = returns[-WINDOW:]
        if len(window) == WINDOW and sum(window) / WINDOW >= SOLVED_RETURN:
            return episode
    return None


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, gymnasium {gym.__version__}, 1 thread")
    solved = []
    for seed in range(seeds):
        start, cpu = time.perf_counter(), time.process_time()
        at = train(seed)
        secs = time.perf_counter() - start
        cpu = time.process_time() - cpu
        if at is None:
            print(f"seed {seed}: not solved in {MAX_EPISODES} episodes ({secs:.1f} s, CPU {cpu:.1f} s)",
                  flush=True)
        else:
            print(f"seed {seed}: solved at episode {at} in {secs:.1f} s (CPU {cpu:.1f} s)", flush=True)
            solved.append(at)
    if solved:
        print(f"solved {len(solved)}/{seeds} seeds; median episodes to solve "
              f"{int(statistics.median_low(solved))}")


if __name__ == "__main__":
    main()
