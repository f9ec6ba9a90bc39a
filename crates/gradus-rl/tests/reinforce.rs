//! REINFORCE with a baseline learns CartPole on a fixed seed within a bounded number of
//! episodes, and rejects invalid settings.

use gradus_rl::{train, CartPole, ReinforceConfig, RlError};

#[test]
fn reinforce_learns_to_balance_the_pole() {
    // "solved" here: a mean return of 195 over 20 episodes (CartPole-v0's bar, on a short window)
    let config = ReinforceConfig {
        max_episodes: 400,
        solved_return: 195.0,
        solved_window: 20,
        seed: 0,
        ..ReinforceConfig::default()
    };
    let report = train(&mut CartPole::new(), &config, |_| {}).unwrap();
    let first: f64 = report.returns[..20].iter().sum::<f64>() / 20.0;
    assert!(
        first < 60.0,
        "a random policy balances ~20 steps, got {first}"
    );
    assert!(
        report.solved_at.is_some(),
        "not solved in 400 episodes; last returns {:?}",
        &report.returns[report.returns.len() - 20..]
    );
}

#[test]
fn invalid_settings_are_refused_with_their_name() {
    let config = ReinforceConfig {
        gamma: 1.0,
        ..ReinforceConfig::default()
    };
    let err = train(&mut CartPole::new(), &config, |_| {}).unwrap_err();
    assert!(matches!(err, RlError::InvalidConfig { key: "gamma", .. }));
    assert_eq!(
        err.to_string(),
        "reinforce config: `gamma` = 1 must be in [0, 1)"
    );
    let config = ReinforceConfig {
        policy_lr: -1.0,
        ..ReinforceConfig::default()
    };
    assert!(train(&mut CartPole::new(), &config, |_| {}).is_err());
}
