//! Why a run ended without an error: [`StopReason`], written to `summary.json` and `report.html`
//! as the same words the trainer always used ("completed", "early stopping", "max steps",
//! "interrupted"). A divergence is not a stop reason: it ends `fit` with
//! [`TrainError::Diverged`](crate::TrainError::Diverged).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why [`Trainer::fit`](crate::Trainer::fit) returned a summary.
///
/// Its text (`Display`, [`StopReason::as_str`], and its serde form) is one fixed word or phrase per
/// reason, as in the run files.
///
/// ```
/// use gradus_train::StopReason;
/// assert_eq!(StopReason::MaxSteps.to_string(), "max steps");
/// assert_eq!(serde_json::to_string(&StopReason::EarlyStopped).unwrap(), "\"early stopping\"");
/// let back: StopReason = serde_json::from_str("\"interrupted\"").unwrap();
/// assert_eq!(back, StopReason::Interrupted);
/// assert!(serde_json::from_str::<StopReason>("\"tired\"").is_err());
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// Every epoch ran.
    Completed,
    /// Early stopping saw no improvement for `patience` epochs.
    EarlyStopped,
    /// `max_steps` optimizer steps were taken.
    MaxSteps,
    /// The interrupt flag was set (Ctrl-C in the CLI); the run saved where it stood.
    Interrupted,
}

impl StopReason {
    /// Every reason, in declaration order.
    pub const ALL: [StopReason; 4] = [
        StopReason::Completed,
        StopReason::EarlyStopped,
        StopReason::MaxSteps,
        StopReason::Interrupted,
    ];

    /// The reason's text in the run files: "completed", "early stopping", "max steps" or
    /// "interrupted".
    ///
    /// ```
    /// assert_eq!(gradus_train::StopReason::Completed.as_str(), "completed");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::EarlyStopped => "early stopping",
            StopReason::MaxSteps => "max steps",
            StopReason::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StopReason, D::Error> {
        let text = String::deserialize(d)?;
        StopReason::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = StopReason::ALL.iter().map(|r| r.as_str()).collect();
                serde::de::Error::custom(format!(
                    "unknown stop reason {text:?} (expected one of {known:?})"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_through_its_text() {
        for r in StopReason::ALL {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{r}\""));
            assert_eq!(serde_json::from_str::<StopReason>(&json).unwrap(), r);
        }
    }
}
