//! Metrics in CloudWatch's embedded metric format (EMF): each function
//! counts what it does while it handles an invocation and writes the counts
//! to standard output as JSON lines when the invocation ends
//! ([`Metrics::flush`]); CloudWatch Logs turns those lines into metrics, so
//! there is no `PutMetricData` call, no extra permission and no latency on
//! the request path.
//!
//! The metric names, their units and dimensions are in [`names`], in one
//! place.
//!
//! Why not the `metrics` crate with `metrics_cloudwatch_embedded` (0.10):
//! - it writes one dimension set per line, so a count published both per
//!   source and in total (what the dashboard and the alarms need) would
//!   take two lines per request instead of one (log ingestion is billed per
//!   byte: the line is most of what metrics cost per webhook, see
//!   BENCHMARKS.md); EMF allows several dimension sets per directive;
//! - its collector exists only as the process-wide `metrics` recorder,
//!   which every handler in a test binary would share: the tests that check
//!   what one invocation wrote run concurrently;
//! - its `lambda` feature replaces `lambda_runtime::run` and brings
//!   `lambda_http` with all its default features into every function.
//!
//! What is left to write is small: a map of counts per dimension values
//! ([`Metrics`]) and its rendering as EMF documents (`emf`). The tests
//! check the output against the specification with a validator written
//! from the specification (`hookrelay_test_support::emf_spec`), not from
//! this code.

mod emf;
pub mod names;

pub use emf::{MAX_METRICS_PER_DIRECTIVE, MAX_VALUES_PER_METRIC};

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// CloudWatch units hookrelay uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// A metric: its name, unit, and the dimension sets it is published
/// under. A record publishes the metric under each set whose dimensions it
/// names (the empty set: the total), so a dimension that only some records
/// carry (`Endpoint`, for endpoints that opt in) adds metrics only for them.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub dimension_sets: &'static [&'static [&'static str]],
}

/// Dimension values of a record, by dimension name.
pub type Dims<'a> = &'a [(&'static str, &'a str)];

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A count: summed.
    Sum(f64),
    /// Individual observations (durations): kept as values, which
    /// CloudWatch turns into a distribution (averages, percentiles).
    Samples(Vec<f64>),
}

type Key = Vec<(&'static str, String)>;

/// The metrics of one set of dimension values, by name.
type Counted = BTreeMap<&'static str, (&'static Metric, Value)>;

/// Where rendered lines go.
type Output = Arc<dyn Fn(&str) + Send + Sync>;

/// Counts of one function instance, written out per invocation.
pub struct Metrics {
    namespace: String,
    output: Output,
    pending: Mutex<BTreeMap<Key, Counted>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Lines a [`Metrics::in_memory`] wrote, for tests.
#[derive(Debug, Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    /// Every line written so far.
    pub fn all(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Takes the lines written so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Entries are only inserted or added to: a poisoned lock is consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The namespace when `HOOKRELAY_METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "hookrelay";

/// `HOOKRELAY_METRICS_NAMESPACE` (the template's `MetricsNamespace`), or
/// [`DEFAULT_NAMESPACE`]; CloudWatch takes 1 to 255 characters.
pub fn namespace_from_env(env: &crate::env::Env) -> Result<String, crate::env::EnvError> {
    match env.get("HOOKRELAY_METRICS_NAMESPACE") {
        None => Ok(DEFAULT_NAMESPACE.to_string()),
        Some(ns) if (1..=255).contains(&ns.chars().count()) && !ns.starts_with("AWS/") => Ok(ns),
        Some(value) => Err(crate::env::EnvError::Invalid {
            name: "HOOKRELAY_METRICS_NAMESPACE",
            value,
            expected: "a CloudWatch namespace: 1 to 255 characters, not starting with AWS/".into(),
        }),
    }
}

impl Metrics {
    /// Writes to standard output, where Lambda collects it for CloudWatch.
    pub fn stdout(namespace: impl Into<String>) -> Self {
        Self::with_output(namespace, |line| {
            // One write per line under the lock, so a log line written by
            // another task cannot land inside it.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        })
    }

    /// Writes each line to `output`.
    pub fn with_output(
        namespace: impl Into<String>,
        output: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            output: Arc::new(output),
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    /// Keeps the lines in memory (tests).
    pub fn in_memory(namespace: impl Into<String>) -> (Self, Lines) {
        let lines = Lines::default();
        let sink = lines.clone();
        let metrics = Self::with_output(namespace, move |line| lock(&sink.0).push(line.into()));
        (metrics, lines)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Adds `n` to a count.
    pub fn count(&self, metric: &'static Metric, dims: Dims<'_>, n: u64) {
        if n == 0 {
            return;
        }
        self.add(
            metric,
            dims,
            |v| match v {
                Value::Sum(s) => *s += n as f64,
                Value::Samples(s) => s.push(n as f64),
            },
            Value::Sum(n as f64),
        );
    }

    /// Records one observation (a duration in the metric's unit).
    pub fn observe(&self, metric: &'static Metric, dims: Dims<'_>, value: f64) {
        if !value.is_finite() {
            return;
        }
        let value = value.max(0.0);
        self.add(
            metric,
            dims,
            |v| match v {
                Value::Samples(s) => s.push(value),
                Value::Sum(s) => *s += value,
            },
            Value::Samples(vec![value]),
        );
    }

    fn add(
        &self,
        metric: &'static Metric,
        dims: Dims<'_>,
        update: impl FnOnce(&mut Value),
        first: Value,
    ) {
        let mut key: Key = dims.iter().map(|(k, v)| (*k, dimension_value(v))).collect();
        key.sort();
        key.dedup_by(|a, b| a.0 == b.0);
        let mut pending = lock(&self.pending);
        let metrics = pending.entry(key).or_default();
        match metrics.get_mut(metric.name) {
            Some((_, v)) => update(v),
            None => {
                metrics.insert(metric.name, (metric, first));
            }
        }
    }

    /// The EMF documents of everything counted since the last flush, and
    /// forgets it.
    pub fn take_documents(&self, timestamp_ms: u64) -> Vec<String> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut docs = Vec::new();
        for (dims, metrics) in pending {
            emf::render(&self.namespace, timestamp_ms, &dims, metrics, &mut docs);
        }
        docs
    }

    /// Writes what was counted since the last flush: call it when an
    /// invocation ends (Lambda may freeze the instance right after).
    pub fn flush(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        for doc in self.take_documents(now) {
            (self.output)(&doc);
        }
    }
}

/// CloudWatch takes dimension values of 1 to 1024 characters; the values
/// used here are validated names, this only guards the limits.
fn dimension_value(v: &str) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.chars().take(1024).collect()
}

#[cfg(test)]
mod tests {
    use super::names::*;
    use super::*;
    use serde_json::Value as J;

    fn docs(m: &Metrics) -> Vec<J> {
        m.take_documents(1_700_000_000_000)
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn counts_add_up_per_dimension_values_and_one_line_carries_every_dimension_set() {
        let (m, _) = Metrics::in_memory("ns");
        m.count(&WEBHOOKS_ACCEPTED, &[(SOURCE, "github")], 1);
        m.count(&WEBHOOKS_ACCEPTED, &[(SOURCE, "github")], 2);
        m.count(&WEBHOOKS_ACCEPTED, &[(SOURCE, "stripe")], 1);
        let d = docs(&m);
        assert_eq!(d.len(), 2, "one document per source");
        assert_eq!(d[0]["Source"], "github");
        assert_eq!(d[0]["WebhooksAccepted"], 3.0);
        assert_eq!(d[0]["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &d[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ns");
        assert_eq!(directive["Dimensions"], serde_json::json!([["Source"], []]));
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([{"Name": "WebhooksAccepted", "Unit": "Count"}])
        );
        assert!(docs(&m).is_empty(), "taken");
    }

    #[test]
    fn a_dimension_set_applies_only_to_records_that_name_its_dimensions() {
        let (m, _) = Metrics::in_memory("ns");
        m.count(&DELIVERY_FAILED, &[(CLASS, "5xx")], 1);
        m.count(&DELIVERY_FAILED, &[(CLASS, "5xx"), (ENDPOINT, "crm")], 1);
        let d = docs(&m);
        assert_eq!(d.len(), 2);
        let sets: Vec<&J> = d
            .iter()
            .map(|x| &x["_aws"]["CloudWatchMetrics"][0]["Dimensions"])
            .collect();
        assert_eq!(*sets[0], serde_json::json!([[], ["Class"]]));
        assert_eq!(*sets[1], serde_json::json!([[], ["Class"], ["Endpoint"]]));
    }

    #[test]
    fn observations_are_kept_as_values_at_most_a_hundred_per_document() {
        let (m, _) = Metrics::in_memory("ns");
        for i in 0..250 {
            m.observe(&ANSWER_TIME, &[], i as f64);
        }
        m.count(&DELIVERED, &[], 250);
        let d = docs(&m);
        assert_eq!(d.len(), 3);
        let lens: Vec<usize> = d
            .iter()
            .map(|x| x["AnswerTime"].as_array().unwrap().len())
            .collect();
        assert_eq!(lens, vec![100, 100, 50]);
        assert_eq!(
            d[0]["Delivered"], 250.0,
            "counts go once, with the first part"
        );
        assert!(d[1].get("Delivered").is_none());
        assert!(
            d[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["Name"] != "Delivered")
        );
    }

    #[test]
    fn flush_writes_lines_to_the_output() {
        let (m, lines) = Metrics::in_memory("ns");
        m.flush();
        assert!(lines.all().is_empty(), "nothing counted, nothing written");
        m.count(&EVENTS_ROUTED, &[], 1);
        m.flush();
        assert_eq!(lines.take().len(), 1);
    }
}
