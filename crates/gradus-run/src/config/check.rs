//! The pieces of config validation: a refused value ([`Invalid`]), all refusals of one config
//! ([`ConfigError`]), and [`Checker`], which collects them with messages that give the allowed
//! range.

use std::fmt;

/// One refused config value: its key (`model.hidden[1]`) and what is allowed instead.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// The key at fault, as written in the config (`optimizer.betas[0]`).
    pub key: String,
    /// The allowed range or the conflict, with the value found.
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Every refused value of a config (never empty).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError(pub Vec<Invalid>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} invalid values:", all.len())?;
                all.iter().try_for_each(|i| write!(f, "\n  {i}"))
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// An end of an allowed interval of real numbers.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// The value itself is allowed.
    Closed(f64),
    /// Only values strictly beyond it are allowed.
    Open(f64),
    /// No limit on this side (the value must still be finite).
    Unbounded,
}

/// Collects the refusals of one config.
#[derive(Default)]
pub struct Checker {
    found: Vec<Invalid>,
}

impl Checker {
    /// Refuses `key` with `problem`.
    pub fn fail(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.found.push(Invalid {
            key: key.into(),
            problem: problem.into(),
        });
    }

    /// `Ok` when nothing was refused.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.found))
        }
    }

    /// A count or size of at least `min`.
    pub fn at_least(&mut self, key: &str, value: u64, min: u64) {
        if value < min {
            self.fail(key, format!("must be at least {min}, got {value}"));
        }
    }

    /// A finite real number in the interval from `lo` to `hi` (NaN and infinities are refused).
    pub fn real(&mut self, key: &str, value: f64, lo: Bound, hi: Bound) {
        let above = match lo {
            Bound::Closed(a) => value >= a,
            Bound::Open(a) => value > a,
            Bound::Unbounded => true,
        };
        let below = match hi {
            Bound::Closed(b) => value <= b,
            Bound::Open(b) => value < b,
            Bound::Unbounded => true,
        };
        if !(above && below && value.is_finite()) {
            self.fail(
                key,
                format!("must be a finite number{}, got {value}", range(lo, hi)),
            );
        }
    }

    /// One of the `allowed` names.
    pub fn one_of(&mut self, key: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(
                key,
                format!(
                    "unknown value `{value}` (expected {})",
                    allowed
                        .iter()
                        .map(|a| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    /// A path or name that must not be empty.
    pub fn not_empty(&mut self, key: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(key, "must not be empty");
        }
    }

    /// Refuses a key that is set although `owner` does not use it; `users` says what does.
    pub fn unused(&mut self, key: &str, set: bool, owner: &str, users: &str) {
        if set {
            self.fail(key, format!("is not used by {owner} (only by {users})"));
        }
    }
}

/// "in [0, 1)", ">= 0", "> 0", or nothing for no limits.
fn range(lo: Bound, hi: Bound) -> String {
    use Bound::{Closed, Open, Unbounded};
    match (lo, hi) {
        (Closed(a), Unbounded) => format!(" >= {a}"),
        (Open(a), Unbounded) => format!(" > {a}"),
        (Unbounded, Closed(b)) => format!(" <= {b}"),
        (Unbounded, Open(b)) => format!(" < {b}"),
        (Unbounded, Unbounded) => String::new(),
        (Closed(a) | Open(a), Closed(b) | Open(b)) => {
            let left = if matches!(lo, Closed(_)) { '[' } else { '(' };
            let right = if matches!(hi, Closed(_)) { ']' } else { ')' };
            format!(" in {left}{a}, {b}{right}")
        }
    }
}
