//! The protobuf messages of TensorBoard's event files, declared with prost's derive (no `.proto`
//! compilation step): the fields gradus writes of `tensorboard/compat/proto/event.proto`,
//! `summary.proto` and the hparams plugin's `plugin_data.proto` / `api.proto`, with their field
//! numbers. Fields gradus never sets are left out; protobuf readers skip nothing they expect.

use std::collections::BTreeMap;

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step the values belong to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "EventWhat", tags = "3, 5")]
    pub what: Option<EventWhat>,
}

/// The payload of an [`Event`] (`oneof what`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventWhat {
    /// The file's first event: `"brain.Event:2"`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Summary values.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorboard.Summary`: a list of tagged values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorboard.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The series name (`train/loss`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which plugin owns the value (set for hparams).
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value itself.
    #[prost(oneof = "ValueKind", tags = "2, 5")]
    pub value: Option<ValueKind>,
}

/// The payload of a [`SummaryValue`] (`oneof value`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ValueKind {
    /// A scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// A histogram.
    #[prost(message, tag = "5")]
    Histo(HistogramProto),
}

/// `tensorboard.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin and its data.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// `tensorboard.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// `"hparams"`.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own serialized message ([`HParamsPluginData`]).
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorboard.HistogramProto`: bucket `i` counts the values in
/// `(bucket_limit[i - 1], bucket_limit[i]]`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// Smallest value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Largest value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Number of values.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Their sum.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// The sum of their squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edge of each bucket.
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Count of each bucket.
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

/// `tensorboard.hparams.HParamsPluginData`: the content of an hparams summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// Always 0.
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// Which message it is.
    #[prost(oneof = "HParamsData", tags = "2, 3, 4")]
    pub data: Option<HParamsData>,
}

/// The payload of [`HParamsPluginData`] (`oneof data`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum HParamsData {
    /// The hyperparameters and metrics the dashboard shows (tag `_hparams_/experiment`).
    #[prost(message, tag = "2")]
    Experiment(Experiment),
    /// The run's hyperparameter values (tag `_hparams_/session_start_info`).
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    /// How the run ended (tag `_hparams_/session_end_info`).
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

/// `tensorboard.hparams.Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    /// The hyperparameters.
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    /// The metrics (scalar tags) to show beside them.
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
}

/// `tensorboard.hparams.HParamInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    /// The hyperparameter's name (`optimizer.lr`).
    #[prost(string, tag = "1")]
    pub name: String,
    /// `DataType`: 1 string, 2 bool, 3 float64.
    #[prost(int32, tag = "4")]
    pub r#type: i32,
}

/// `tensorboard.hparams.MetricInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    /// The scalar's tag.
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
}

/// `tensorboard.hparams.MetricName`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    /// The run subdirectory (empty: the run itself).
    #[prost(string, tag = "1")]
    pub group: String,
    /// The scalar's tag.
    #[prost(string, tag = "2")]
    pub tag: String,
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// Hyperparameter values by name.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, ProtoValue>,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    /// `Status`: 1 success, 2 failure.
    #[prost(int32, tag = "1")]
    pub status: i32,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `google.protobuf.Value`, the kinds hyperparameters take.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoValue {
    /// The value.
    #[prost(oneof = "ProtoValueKind", tags = "2, 3, 4")]
    pub kind: Option<ProtoValueKind>,
}

/// The payload of a [`ProtoValue`] (`oneof kind`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ProtoValueKind {
    /// A number.
    #[prost(double, tag = "2")]
    NumberValue(f64),
    /// A string.
    #[prost(string, tag = "3")]
    StringValue(String),
    /// A boolean.
    #[prost(bool, tag = "4")]
    BoolValue(bool),
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_scalar_event_encodes_to_the_bytes_protobuf_specifies() {
        // reference bytes worked out by hand from the protobuf wire format:
        // Event{wall_time=1.5 (field 1, fixed64), step=3 (field 2, varint),
        //       summary (field 5, len) {value (field 1, len) {tag "a" (field 1), simple_value 2.0 (field 2, fixed32)}}}
        let e = Event {
            wall_time: 1.5,
            step: 3,
            what: Some(EventWhat::Summary(Summary {
                value: vec![SummaryValue {
                    tag: "a".into(),
                    metadata: None,
                    value: Some(ValueKind::SimpleValue(2.0)),
                }],
            })),
        };
        let mut want = vec![0x09];
        want.extend(1.5f64.to_le_bytes());
        want.extend([0x10, 0x03, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, b'a', 0x15]);
        want.extend(2.0f32.to_le_bytes());
        assert_eq!(e.encode_to_vec(), want);
        assert_eq!(Event::decode(&want[..]).unwrap(), e);
    }

    #[test]
    fn histogram_buckets_are_packed_doubles() {
        let h = HistogramProto {
            bucket_limit: vec![1.0, 2.0],
            ..Default::default()
        };
        // field 6, wire type 2 (packed), 16 bytes: two little-endian doubles
        let mut want = vec![0x32, 16];
        want.extend(1.0f64.to_le_bytes());
        want.extend(2.0f64.to_le_bytes());
        assert_eq!(h.encode_to_vec(), want);
    }

    #[test]
    fn hparams_map_entries_are_key_1_value_2() {
        let s = SessionStartInfo {
            hparams: BTreeMap::from([(
                "lr".to_string(),
                ProtoValue {
                    kind: Some(ProtoValueKind::BoolValue(true)),
                },
            )]),
            start_time_secs: 0.0,
        };
        // field 1 (len 8) { key (1): "lr", value (2, len 2) { bool_value (4): 1 } }
        assert_eq!(
            s.encode_to_vec(),
            vec![0x0a, 8, 0x0a, 2, b'l', b'r', 0x12, 2, 0x20, 1]
        );
    }
}
