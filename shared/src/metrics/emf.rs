//! Rendering counts as EMF documents (CloudWatch's "Specification:
//! Embedded metric format").
//!
//! One document per set of dimension values: the dimensions are members of
//! the root, each metric's value is a member named after it (a number, or
//! an array of at most 100 numbers), and `_aws` holds the timestamp and one
//! directive per distinct list of dimension sets, each naming at most 100
//! metrics. Observations beyond 100 per metric go into further documents.

use super::{Counted, Key, Metric, Value};
use serde_json::{Map, Value as J, json};

/// The specification's limit of metric definitions per directive.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// The specification's limit of values in a metric's array.
pub const MAX_VALUES_PER_METRIC: usize = 100;

pub(super) fn render(
    namespace: &str,
    timestamp_ms: u64,
    dims: &Key,
    metrics: Counted,
    out: &mut Vec<String>,
) {
    // Split into parts: each part holds at most 100 values per metric.
    let mut parts: Vec<Vec<(&'static Metric, J)>> = Vec::new();
    for (_, (metric, value)) in metrics {
        let chunks: Vec<J> = match value {
            Value::Sum(n) => vec![number(n)],
            Value::Samples(v) => v
                .chunks(MAX_VALUES_PER_METRIC)
                .map(|c| J::Array(c.iter().map(|x| number(*x)).collect()))
                .collect(),
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            if parts.len() <= i {
                parts.push(Vec::new());
            }
            parts[i].push((metric, chunk));
        }
    }
    for part in parts {
        // Metrics grouped by the dimension sets that apply to this record.
        for group in part.chunks(MAX_METRICS_PER_DIRECTIVE) {
            out.push(document(namespace, timestamp_ms, dims, group));
        }
    }
}

fn document(namespace: &str, timestamp_ms: u64, dims: &Key, metrics: &[(&Metric, J)]) -> String {
    let present = |set: &&[&str]| set.iter().all(|d| dims.iter().any(|(k, _)| k == d));
    let mut directives: Vec<(Vec<&[&str]>, Vec<J>)> = Vec::new();
    let mut root = Map::new();
    for (metric, value) in metrics {
        let sets: Vec<&[&str]> = metric
            .dimension_sets
            .iter()
            .copied()
            .filter(|s| present(s))
            .collect();
        let definition = json!({"Name": metric.name, "Unit": metric.unit.as_str()});
        match directives.iter_mut().find(|(s, _)| *s == sets) {
            Some((_, defs)) => defs.push(definition),
            None => directives.push((sets, vec![definition])),
        }
        root.insert(metric.name.to_string(), value.clone());
    }
    for (k, v) in dims {
        root.insert((*k).to_string(), J::String(v.clone()));
    }
    let directives: Vec<J> = directives
        .into_iter()
        .map(|(sets, defs)| {
            json!({
                "Namespace": namespace,
                "Dimensions": sets,
                "Metrics": defs,
            })
        })
        .collect();
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    J::Object(root).to_string()
}

/// Counts are whole numbers; written without a fraction they read better
/// in the logs.
fn number(x: f64) -> J {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        J::from(x as i64)
    } else {
        J::from(x)
    }
}
