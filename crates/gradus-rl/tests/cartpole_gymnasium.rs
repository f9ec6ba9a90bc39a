//! Replays episodes recorded from gymnasium 1.4.0's `CartPole-v1` (tests/data, written and
//! checked against gymnasium by tests/python/test_cartpole.py) and requires every state, reward
//! and end flag to be exactly gymnasium's.

use gradus_rl::{CartPole, Environment};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn cartpole_matches_gymnasium_bit_for_bit() {
    let text = include_str!("data/cartpole_gymnasium.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let episodes = fixture["episodes"].as_array().unwrap();
    let mut checked = 0;
    for ep in episodes {
        let start: [f64; 4] = floats(&ep["start"]).try_into().unwrap();
        let mut env = CartPole::new();
        env.reset_to(start);
        for (i, s) in ep["steps"].as_array().unwrap().iter().enumerate() {
            let step = env.step(s["action"].as_u64().unwrap() as usize).unwrap();
            let want = floats(&s["state"]);
            let got = env.state();
            for k in 0..4 {
                assert_eq!(
                    got[k].to_bits(),
                    want[k].to_bits(),
                    "seed {} step {i} variable {k}: {} vs gymnasium {}",
                    ep["seed"],
                    got[k],
                    want[k]
                );
                assert_eq!(step.observation[k], want[k] as f32);
            }
            assert_eq!(step.reward, s["reward"].as_f64().unwrap());
            assert_eq!(
                step.terminated,
                s["terminated"].as_bool().unwrap(),
                "seed {} step {i}",
                ep["seed"]
            );
            assert_eq!(
                step.truncated,
                s["truncated"].as_bool().unwrap(),
                "seed {} step {i}",
                ep["seed"]
            );
            checked += 1;
        }
        // the episode ended where gymnasium's did: another step is refused
        assert!(env.step(0).is_err());
    }
    assert_eq!(checked, 768);
}
