//! [`SummaryWriter`]: an event file in a directory, with PyTorch's `SummaryWriter` verbs
//! (`add_scalar`, `add_histogram`, `add_hparams`).

use super::event_file::write_record;
use super::histogram::{histogram, BUCKETS};
use super::proto::{
    Event, EventWhat, Experiment, HParamInfo, HParamsData, HParamsPluginData, MetricInfo,
    MetricName, PluginData, ProtoValue, ProtoValueKind, SessionEndInfo, SessionStartInfo, Summary,
    SummaryMetadata, SummaryValue, ValueKind,
};
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A hyperparameter's value, as the hparams plugin types them.
#[derive(Clone, Debug, PartialEq)]
pub enum HParam {
    /// A number (`DATA_TYPE_FLOAT64`).
    Number(f64),
    /// A string (`DATA_TYPE_STRING`).
    Text(String),
    /// A boolean (`DATA_TYPE_BOOL`).
    Bool(bool),
}

/// How a run ended, for the hparams plugin's `SessionEndInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// `STATUS_SUCCESS`.
    Success = 1,
    /// `STATUS_FAILURE`.
    Failure = 2,
}

/// Writes one TensorBoard event file, `events.out.tfevents.<secs>.<host>` in a directory.
///
/// Values are buffered; [`flush`](SummaryWriter::flush) (and dropping the writer) writes them
/// out. Each `add_*` call is one event record.
///
/// ```
/// use gradus_train::tensorboard::{event_file::read_records, SummaryWriter};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = SummaryWriter::create(dir.path()).unwrap();
/// w.add_scalar("train/loss", 0.5, 1).unwrap();
/// w.add_histogram("weights/fc.weight", &[0.1, -0.2, 0.3], 1).unwrap();
/// w.flush().unwrap();
/// let bytes = std::fs::read(w.path()).unwrap();
/// assert_eq!(read_records(&bytes).unwrap().len(), 3); // the file version, then two events
/// ```
pub struct SummaryWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's name (`HOSTNAME`, else the kernel's, else `localhost`), as event file names
/// carry it.
fn host_name() -> String {
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

impl SummaryWriter {
    /// Creates `dir` if needed and a new event file in it (with `.1`, `.2`... appended when a
    /// file of that second and host exists), starting with the file-version event.
    ///
    /// # Errors
    /// When the directory or file cannot be created, naming it.
    pub fn create(dir: &Path) -> io::Result<SummaryWriter> {
        let named =
            |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
        std::fs::create_dir_all(dir).map_err(|e| named(e, dir))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let base = format!("events.out.tfevents.{secs}.{}", host_name());
        let mut n = 0;
        let (path, file) = loop {
            let name = if n == 0 {
                base.clone()
            } else {
                format!("{base}.{n}")
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(named(e, &path)),
            }
        };
        let mut w = SummaryWriter {
            path,
            out: BufWriter::new(file),
        };
        w.write_event(Event {
            wall_time: now(),
            step: 0,
            what: Some(EventWhat::FileVersion("brain.Event:2".into())),
        })?;
        Ok(w)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_event(&mut self, event: Event) -> io::Result<()> {
        write_record(&mut self.out, &event.encode_to_vec())
    }

    /// Writes `values` as one event at `step`.
    fn write_summary(&mut self, step: u64, value: Vec<SummaryValue>) -> io::Result<()> {
        self.write_event(Event {
            wall_time: now(),
            step: i64::try_from(step).unwrap_or(i64::MAX),
            what: Some(EventWhat::Summary(Summary { value })),
        })
    }

    /// Scalars `(tag, value)` at `step`, in one event (TensorBoard stores them as f32).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_scalars(&mut self, values: &[(String, f64)], step: u64) -> io::Result<()> {
        let value = values
            .iter()
            .map(|(tag, v)| SummaryValue {
                tag: tag.clone(),
                metadata: None,
                value: Some(ValueKind::SimpleValue(*v as f32)),
            })
            .collect();
        self.write_summary(step, value)
    }

    /// One scalar at `step` (PyTorch's `add_scalar`).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: u64) -> io::Result<()> {
        self.add_scalars(&[(tag.to_string(), value)], step)
    }

    /// The histogram of `values` at `step` ([`histogram`] with [`BUCKETS`] buckets).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_histogram(&mut self, tag: &str, values: &[f64], step: u64) -> io::Result<()> {
        let value = SummaryValue {
            tag: tag.to_string(),
            metadata: None,
            value: Some(ValueKind::Histo(histogram(values, BUCKETS))),
        };
        self.write_summary(step, vec![value])
    }

    fn add_hparams_data(&mut self, tag: &str, data: HParamsData) -> io::Result<()> {
        let content = HParamsPluginData {
            version: 0,
            data: Some(data),
        }
        .encode_to_vec();
        let value = SummaryValue {
            tag: tag.to_string(),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: "hparams".into(),
                    content,
                }),
            }),
            value: None,
        };
        self.write_summary(0, vec![value])
    }

    /// The run's hyperparameters for TensorBoard's HParams dashboard: the experiment (each
    /// hyperparameter's type and the scalar tags `metrics` to show beside them) and the
    /// session's start with the values, as PyTorch's `add_hparams` writes them.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_hparams(
        &mut self,
        hparams: &[(String, HParam)],
        metrics: &[String],
    ) -> io::Result<()> {
        let experiment = Experiment {
            hparam_infos: hparams
                .iter()
                .map(|(name, v)| HParamInfo {
                    name: name.clone(),
                    r#type: match v {
                        HParam::Text(_) => 1,
                        HParam::Bool(_) => 2,
                        HParam::Number(_) => 3,
                    },
                })
                .collect(),
            metric_infos: metrics
                .iter()
                .map(|tag| MetricInfo {
                    name: Some(MetricName {
                        group: String::new(),
                        tag: tag.clone(),
                    }),
                })
                .collect(),
        };
        self.add_hparams_data("_hparams_/experiment", HParamsData::Experiment(experiment))?;
        let start = SessionStartInfo {
            hparams: hparams
                .iter()
                .map(|(name, v)| {
                    let kind = match v {
                        HParam::Number(x) => ProtoValueKind::NumberValue(*x),
                        HParam::Text(s) => ProtoValueKind::StringValue(s.clone()),
                        HParam::Bool(b) => ProtoValueKind::BoolValue(*b),
                    };
                    (name.clone(), ProtoValue { kind: Some(kind) })
                })
                .collect(),
            start_time_secs: now(),
        };
        self.add_hparams_data(
            "_hparams_/session_start_info",
            HParamsData::SessionStartInfo(start),
        )
    }

    /// The hparams session's end, with how the run ended.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn end_session(&mut self, status: SessionStatus) -> io::Result<()> {
        let end = SessionEndInfo {
            status: status as i32,
            end_time_secs: now(),
        };
        self.add_hparams_data(
            "_hparams_/session_end_info",
            HParamsData::SessionEndInfo(end),
        )
    }

    /// Writes out everything buffered.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::event_file::read_records;
    use super::*;

    fn events(w: &SummaryWriter) -> Vec<Event> {
        read_records(&std::fs::read(w.path()).unwrap())
            .unwrap()
            .iter()
            .map(|r| Event::decode(&r[..]).unwrap())
            .collect()
    }

    #[test]
    fn the_file_is_named_and_starts_as_tensorboard_expects() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = SummaryWriter::create(dir.path()).unwrap();
        let b = SummaryWriter::create(dir.path()).unwrap();
        assert_ne!(
            a.path(),
            b.path(),
            "two writers in one second get two files"
        );
        let name = a.path().file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        a.add_scalar("loss", 0.25, 7).unwrap();
        a.flush().unwrap();
        let e = events(&a);
        assert_eq!(
            e[0].what,
            Some(EventWhat::FileVersion("brain.Event:2".into()))
        );
        assert_eq!(e[1].step, 7);
        let Some(EventWhat::Summary(s)) = &e[1].what else {
            panic!("not a summary: {:?}", e[1]);
        };
        assert_eq!(s.value[0].tag, "loss");
        assert_eq!(s.value[0].value, Some(ValueKind::SimpleValue(0.25)));
    }

    #[test]
    fn hparams_are_plugin_data_of_the_hparams_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SummaryWriter::create(dir.path()).unwrap();
        let hp = [
            ("optimizer.lr".to_string(), HParam::Number(0.01)),
            ("model.kind".to_string(), HParam::Text("mlp".into())),
        ];
        w.add_hparams(&hp, &["epoch/val_loss".into()]).unwrap();
        w.end_session(SessionStatus::Success).unwrap();
        w.flush().unwrap();
        let e = events(&w);
        let tags_and_data: Vec<(String, HParamsPluginData)> = e[1..]
            .iter()
            .map(|e| {
                let Some(EventWhat::Summary(s)) = &e.what else {
                    panic!("not a summary")
                };
                let v = &s.value[0];
                let pd = v.metadata.clone().unwrap().plugin_data.unwrap();
                assert_eq!(pd.plugin_name, "hparams");
                (
                    v.tag.clone(),
                    HParamsPluginData::decode(&pd.content[..]).unwrap(),
                )
            })
            .collect();
        let tags: Vec<&str> = tags_and_data.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            tags,
            [
                "_hparams_/experiment",
                "_hparams_/session_start_info",
                "_hparams_/session_end_info"
            ]
        );
        let Some(HParamsData::SessionStartInfo(s)) = &tags_and_data[1].1.data else {
            panic!("no session start")
        };
        assert_eq!(
            s.hparams["optimizer.lr"].kind,
            Some(ProtoValueKind::NumberValue(0.01))
        );
        let Some(HParamsData::SessionEndInfo(end)) = &tags_and_data[2].1.data else {
            panic!("no session end")
        };
        assert_eq!(end.status, 1);
    }
}
