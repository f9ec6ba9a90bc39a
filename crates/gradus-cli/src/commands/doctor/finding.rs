//! [`Finding`]: one result of a `gradus doctor` check, with its severity and a concrete fix, as
//! text or JSON.

use serde_json::{json, Value};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The check passed (or says what it measured).
    Ok,
    /// Worth fixing before a long run; the run may still train.
    Warning,
    /// The run is likely to fail or to waste its time.
    Serious,
}

impl Severity {
    /// `ok`, `warning` or `serious`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Serious => "serious",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The check: `features`, `gradient_check`, `lr_range_test`, `dead_relu`,
    /// `gradient_norms`, `divergence`, `oscillation`, `plateau`, `overfitting`.
    pub check: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// What was measured.
    pub message: String,
    /// What to change (a config key and value where there is one).
    pub fix: Option<String>,
}

impl Finding {
    /// A passed check.
    pub fn ok(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            check,
            severity: Severity::Ok,
            message: message.into(),
            fix: None,
        }
    }

    /// A problem found, with its fix.
    pub fn problem(
        check: &'static str,
        severity: Severity,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            severity,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// The finding as a JSON object: `check`, `severity`, `message`, `fix` (null when none).
    pub fn to_json(&self) -> Value {
        json!({
            "check": self.check,
            "severity": self.severity.name(),
            "message": self.message,
            "fix": self.fix,
        })
    }

    /// The finding as text: `[severity] check: message`, then `fix: ...` indented.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "[{}] {}: {}",
            self.severity.name(),
            self.check,
            self.message
        );
        if let Some(fix) = &self.fix {
            s.push_str(&format!("\n    fix: {fix}"));
        }
        s
    }
}
