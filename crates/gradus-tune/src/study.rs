//! [`Study`]: the trials of a search, the sampler that draws the next one, the pruner that stops
//! bad ones, and (optionally) the journal every change is written to first.

use crate::error::{Result, TuneError};
use crate::journal::{self, Event, Journal};
use crate::pruner::{self, Pruner};
use crate::sampler::{self, Sampler};
use crate::space::{ParamValue, Params};
use crate::spec::SearchSpec;
use crate::trial::{Trial, TrialState};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::path::Path;

/// A search in progress.
///
/// ```
/// use gradus_tune::{split_config, Study};
/// let text = r#"
/// [search]
/// sampler = "random"
/// seed = 7
/// [search.params]
/// x = { type = "uniform", low = -1.0, high = 1.0 }
/// "#;
/// let mut study = Study::new(split_config(text, "example").unwrap().spec);
/// for _ in 0..20 {
///     let n = study.ask().unwrap().unwrap();
///     let x = study.value_f64(n, "x").unwrap();
///     study.complete(n, x * x).unwrap();
/// }
/// assert!(study.best().unwrap().value().unwrap() < 0.05);
/// ```
pub struct Study {
    spec: SearchSpec,
    trials: Vec<Trial>,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
    journal: Option<Journal>,
}

impl Study {
    /// A study held in memory only.
    pub fn new(spec: SearchSpec) -> Study {
        Study {
            sampler: sampler::build(&spec.sampler),
            pruner: pruner::build(&spec.pruner),
            spec,
            trials: Vec::new(),
            journal: None,
        }
    }

    /// A new study whose events go to a new journal at `path`.
    ///
    /// # Errors
    /// The journal exists already (resume it instead) or cannot be written.
    pub fn create(spec: SearchSpec, path: &Path) -> Result<Study> {
        if path.exists() {
            return Err(TuneError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a study is already there: --resume continues it, or choose another --out",
                ),
            });
        }
        let mut s = Study::new(spec);
        let mut j = Journal::create(path)?;
        j.append(&s.header())?;
        s.journal = Some(j);
        Ok(s)
    }

    /// The study recorded in the journal at `path`, continued: trials that were running when
    /// the search stopped are marked failed (`interrupted`, written to the journal), do not
    /// count toward the trials asked for, and are run again first by [`Study::ask`]. Returns notes (a torn last line dropped, trials marked
    /// interrupted).
    ///
    /// # Errors
    /// The journal cannot be read, is not one (a bad line named), or was written for another
    /// objective or search space.
    pub fn resume(spec: SearchSpec, path: &Path) -> Result<(Study, Vec<String>)> {
        let (events, note) = journal::read(path)?;
        let mut notes: Vec<String> = note.into_iter().collect();
        let mut s = Study::new(spec);
        let bad = |line: usize, problem: String| TuneError::Journal {
            path: path.to_path_buf(),
            line,
            problem,
        };
        match events.first() {
            Some(h) if *h == s.header() => {}
            Some(Event::Study { .. }) => {
                return Err(bad(1, "written for another objective or search space than the config's [search]: start a new study (another --out)".into()))
            }
            _ => return Err(bad(1, "not a study journal: its first line is not a study event".into())),
        }
        for (i, e) in events.iter().enumerate().skip(1) {
            s.apply(e).map_err(|p| bad(i + 1, p))?;
        }
        s.journal = Some(Journal::open(path)?);
        let running: Vec<usize> = s
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| t.number)
            .collect();
        for n in running {
            s.fail(
                n,
                "interrupted: the search stopped while this trial ran",
                true,
            )?;
            notes.push(format!("trial {n} was running when the search stopped: marked interrupted; its parameters run again first"));
        }
        Ok((s, notes))
    }

    fn header(&self) -> Event {
        Event::Study {
            metric: self.spec.metric.clone(),
            direction: self.spec.direction,
            space: self.spec.space.clone(),
        }
    }

    /// Applies a journal event to the trials (no writing).
    fn apply(&mut self, e: &Event) -> Result<(), String> {
        let trial = match e {
            Event::Study { .. } => return Err("a second study line".into()),
            Event::Created { trial, params } => {
                if *trial != self.trials.len() {
                    return Err(format!("trial {trial} created out of order"));
                }
                let mut p = Params::new();
                for (k, v) in params {
                    let d = self
                        .spec
                        .space
                        .get(k)
                        .ok_or_else(|| format!("unknown parameter {k}"))?;
                    let pv = d
                        .distribution
                        .from_json(v)
                        .ok_or_else(|| format!("{k} = {v} is not in its range"))?;
                    p.insert(k.clone(), pv);
                }
                self.trials.push(Trial {
                    number: *trial,
                    params: p,
                    intermediate: Vec::new(),
                    state: TrialState::Running,
                });
                return Ok(());
            }
            Event::Intermediate { trial, .. }
            | Event::Pruned { trial, .. }
            | Event::Completed { trial, .. }
            | Event::Failed { trial, .. } => *trial,
        };
        let t = self
            .trials
            .get_mut(trial)
            .ok_or_else(|| format!("trial {trial} was never created"))?;
        match e {
            Event::Intermediate { epoch, value, .. } => t.intermediate.push((*epoch, *value)),
            Event::Pruned { epoch, .. } => t.state = TrialState::Pruned(*epoch),
            Event::Completed { value, .. } => t.state = TrialState::Completed(*value),
            Event::Failed {
                reason,
                interrupted,
                ..
            } => {
                t.state = TrialState::Failed {
                    reason: reason.clone(),
                    interrupted: *interrupted,
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes `e` to the journal (if any), then applies it.
    fn record(&mut self, e: Event) -> Result<()> {
        if let Some(j) = &mut self.journal {
            j.append(&e)?;
        }
        self.apply(&e).map_err(|problem| TuneError::Trial {
            trial: self.trials.len(),
            problem,
        })
    }

    /// The search this study runs.
    pub fn spec(&self) -> &SearchSpec {
        &self.spec
    }

    /// Every trial, by number.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// Trials that count toward the number asked for (all but interrupted ones).
    pub fn counted(&self) -> usize {
        self.trials.iter().filter(|t| t.counts()).count()
    }

    /// The completed trial with the best value.
    pub fn best(&self) -> Option<&Trial> {
        let d = self.spec.direction;
        self.trials
            .iter()
            .filter(|t| t.value().is_some_and(f64::is_finite))
            .min_by(|a, b| {
                d.loss(a.value().unwrap_or(0.0))
                    .total_cmp(&d.loss(b.value().unwrap_or(0.0)))
            })
    }

    /// A float or integer parameter of trial `n` as `f64` (a categorical one: its index).
    pub fn value_f64(&self, n: usize, name: &str) -> Option<f64> {
        self.trials.get(n)?.params.get(name).map(|v| match v {
            ParamValue::Float(x) => *x,
            ParamValue::Int(i) => *i as f64,
            ParamValue::Choice(c) => *c as f64,
        })
    }

    /// Draws and records a new trial; returns its number, or `None` when the sampler has
    /// nothing left (a grid fully tried). The parameters of a trial interrupted with the search
    /// and not yet run again come first. Trial `n` draws with a generator seeded by the study's
    /// seed and `n`: asked and told in the same order, a study replays the same way.
    ///
    /// # Errors
    /// The journal cannot be written.
    pub fn ask(&mut self) -> Result<Option<usize>> {
        let n = self.trials.len();
        if let Some(params) = self.to_retry() {
            self.record(Event::Created { trial: n, params })?;
            return Ok(Some(n));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(
            self.spec.seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let Some(params) = self.sampler.sample(
            &self.spec.space,
            &self.trials,
            self.spec.direction,
            &mut rng,
        ) else {
            return Ok(None);
        };
        let params = params
            .iter()
            .map(|(k, v)| {
                let d = &self
                    .spec
                    .space
                    .get(k)
                    .expect("sampled from the space")
                    .distribution;
                (k.clone(), d.to_json(*v))
            })
            .collect();
        self.record(Event::Created { trial: n, params })?;
        Ok(Some(n))
    }

    /// The parameters (as the journal writes them) of the first interrupted trial that no later
    /// trial ran again: a search stopped while its best trials ran must not lose them.
    fn to_retry(&self) -> Option<std::collections::BTreeMap<String, serde_json::Value>> {
        let t = self.trials.iter().find(|t| {
            t.interrupted()
                && !self.trials[t.number + 1..]
                    .iter()
                    .any(|later| later.params == t.params)
        })?;
        Some(
            t.params
                .iter()
                .filter_map(|(k, v)| {
                    // a key no longer searched (the space changed on resume) is left out
                    let d = &self.spec.space.get(k)?.distribution;
                    Some((k.clone(), d.to_json(*v)))
                })
                .collect(),
        )
    }

    /// Records the objective's value after `epoch` of running trial `n` and asks the pruner;
    /// when it says stop (or the value is not finite), records the trial as pruned and returns
    /// `true`.
    ///
    /// # Errors
    /// The trial is not running; the journal cannot be written.
    pub fn report(&mut self, n: usize, epoch: usize, value: f64) -> Result<bool> {
        self.running(n)?;
        if !value.is_finite() {
            self.record(Event::Pruned { trial: n, epoch })?;
            return Ok(true);
        }
        self.record(Event::Intermediate {
            trial: n,
            epoch,
            value,
        })?;
        let stop = self
            .pruner
            .prune(&self.trials[n], &self.trials, self.spec.direction);
        if stop {
            self.record(Event::Pruned { trial: n, epoch })?;
        }
        Ok(stop)
    }

    /// Records running trial `n` as completed with `value` (failed when it is not finite).
    ///
    /// # Errors
    /// The trial is not running; the journal cannot be written.
    pub fn complete(&mut self, n: usize, value: f64) -> Result<()> {
        self.running(n)?;
        if !value.is_finite() {
            return self.fail(n, &format!("the objective is {value}"), false);
        }
        self.record(Event::Completed { trial: n, value })
    }

    /// Records trial `n` as failed.
    ///
    /// # Errors
    /// The trial is not running; the journal cannot be written.
    pub fn fail(&mut self, n: usize, reason: &str, interrupted: bool) -> Result<()> {
        self.running(n)?;
        self.record(Event::Failed {
            trial: n,
            reason: reason.to_string(),
            interrupted,
        })
    }

    fn running(&self, n: usize) -> Result<()> {
        match self.trials.get(n) {
            Some(t) if t.state == TrialState::Running => Ok(()),
            Some(t) => Err(TuneError::Trial {
                trial: n,
                problem: format!("is {}, not running", t.state_name()),
            }),
            None => Err(TuneError::Trial {
                trial: n,
                problem: "does not exist".into(),
            }),
        }
    }
}
