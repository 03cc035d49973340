//! `hookrelay dev up`'s one-line summary of the functions' metrics: it
//! reads the EMF lines the functions write to their log
//! (`.hookrelay/logs/functions.log`) and, every few seconds while traffic
//! flows, prints what they add up to since the pipeline started.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

/// Totals of the metrics seen so far, and the answer times of the last
/// interval.
#[derive(Debug, Default)]
pub struct Summary {
    totals: BTreeMap<String, f64>,
    refused_by_reason: BTreeMap<String, f64>,
    answer_times: Vec<f64>,
    changed: bool,
}

impl Summary {
    /// Adds one log line if it is an EMF document (anything before its
    /// JSON, such as a prefix the log adds, is skipped).
    pub fn add_line(&mut self, line: &str) {
        let Some(start) = line.find('{') else {
            return;
        };
        let Ok(doc) = serde_json::from_str::<Map<String, Value>>(line[start..].trim()) else {
            return;
        };
        let Some(directives) = doc
            .get("_aws")
            .and_then(|a| a.get("CloudWatchMetrics"))
            .and_then(Value::as_array)
        else {
            return;
        };
        let mut names: Vec<&str> = directives
            .iter()
            .filter_map(|d| d.get("Metrics").and_then(Value::as_array))
            .flatten()
            .filter_map(|m| m.get("Name").and_then(Value::as_str))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let values: Vec<f64> = match doc.get(name) {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
                Some(v) => v.as_f64().into_iter().collect(),
                None => continue,
            };
            if name == "AnswerTime" {
                self.answer_times.extend(&values);
                *self.totals.entry(name.into()).or_default() += values.len() as f64;
            } else if name != "JobAge" {
                let sum: f64 = values.iter().sum();
                *self.totals.entry(name.into()).or_default() += sum;
                if name == "WebhooksRefused"
                    && let Some(reason) = doc.get("Reason").and_then(Value::as_str)
                {
                    *self.refused_by_reason.entry(reason.into()).or_default() += sum;
                }
            }
            self.changed = true;
        }
    }

    fn get(&self, name: &str) -> u64 {
        self.totals.get(name).copied().unwrap_or(0.0) as u64
    }

    /// The summary line, if anything was added since the last one.
    pub fn line(&mut self) -> Option<String> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        let reasons: Vec<String> = self
            .refused_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {}", *v as u64))
            .collect();
        let refused = match reasons.is_empty() {
            true => String::new(),
            false => format!(" ({})", reasons.join(", ")),
        };
        let mut times = std::mem::take(&mut self.answer_times);
        times.sort_by(f64::total_cmp);
        let answer = match times.get(times.len() / 2) {
            Some(p50) => format!(", answer p50 {p50:.0} ms"),
            None => String::new(),
        };
        Some(format!(
            "[metrics] receiver: {} accepted, {} refused{refused}, {} enqueue failures | \
             router: {} events routed, {} jobs | sender: {} delivered, {} failed, {} retried, \
             {} dead-lettered, {} parked{answer}",
            self.get("WebhooksAccepted"),
            self.get("WebhooksRefused"),
            self.get("EnqueueFailures"),
            self.get("EventsRouted"),
            self.get("JobsWritten"),
            self.get("Delivered"),
            self.get("DeliveryFailed"),
            self.get("Retried"),
            self.get("DeadLettered"),
            self.get("Parked"),
        ))
    }
}

/// Follows the functions' log from its current end and prints the summary
/// every `every` while new metrics arrive.
pub async fn print_forever(log: PathBuf, every: Duration) {
    let mut offset = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let mut summary = Summary::default();
    let mut pending = String::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Ok(mut f) = std::fs::File::open(&log)
            && f.seek(SeekFrom::Start(offset)).is_ok()
        {
            let mut bytes = Vec::new();
            if f.read_to_end(&mut bytes).is_ok() {
                offset += bytes.len() as u64;
                pending.push_str(&String::from_utf8_lossy(&bytes));
                // Whole lines only; a partial last line waits for the rest.
                while let Some(end) = pending.find('\n') {
                    let line: String = pending.drain(..=end).collect();
                    summary.add_line(&line);
                }
            }
        }
        if let Some(line) = summary.line() {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_emf_lines_and_skips_the_rest() {
        let mut s = Summary::default();
        assert_eq!(s.line(), None);
        s.add_line("INFO webhook accepted source=github");
        s.add_line(r#"{"Source":"github","WebhooksAccepted":1,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Source"],[]],"Metrics":[{"Name":"WebhooksAccepted","Unit":"Count"}]}]}}"#);
        s.add_line(r#"receiver | {"Reason":"signature","Source":"github","WebhooksRefused":2,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Source","Reason"],["Source"],["Reason"],[]],"Metrics":[{"Name":"WebhooksRefused","Unit":"Count"}]}]}}"#);
        s.add_line(r#"{"AnswerTime":[3,5,40],"Delivered":1,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"AnswerTime","Unit":"Milliseconds"},{"Name":"Delivered","Unit":"Count"}]}]}}"#);
        let line = s.line().unwrap();
        assert!(
            line.contains("1 accepted, 2 refused (signature 2)"),
            "{line}"
        );
        assert!(line.contains("1 delivered"), "{line}");
        assert!(line.contains("answer p50 5 ms"), "{line}");
        assert_eq!(s.line(), None, "nothing new");
    }
}
