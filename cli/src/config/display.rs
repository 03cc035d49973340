//! How configurations and endpoint state are shown: keys and custom header
//! values hidden unless `--reveal`.

use hookrelay_shared::health::HealthState;
use time::OffsetDateTime;

/// Replaces key material and custom header values with placeholders.
pub fn redacted(mut v: serde_json::Value) -> serde_json::Value {
    fn keys(list: &mut serde_json::Value) {
        if let Some(arr) = list.as_array_mut() {
            for k in arr {
                match k {
                    serde_json::Value::String(s) => *s = "<hidden>".into(),
                    serde_json::Value::Object(o) => {
                        o.insert("secret".into(), "<hidden>".into());
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(sig) = v.get_mut("signature") {
        if let Some(k) = sig.get_mut("keys") {
            keys(k);
        }
        if let Some(clients) = sig.get_mut("clients").and_then(|c| c.as_object_mut()) {
            for list in clients.values_mut() {
                keys(list);
            }
        }
    }
    if let Some(h) = v.get_mut("headers").and_then(|h| h.as_object_mut()) {
        for val in h.values_mut() {
            *val = "<hidden>".into();
        }
    }
    v
}

/// Prints a configuration as pretty JSON, redacted unless `reveal`.
pub fn print_config<T: serde::Serialize>(cfg: &T, reveal: bool) -> Result<(), String> {
    let v = serde_json::to_value(cfg).map_err(|e| e.to_string())?;
    let v = if reveal { v } else { redacted(v) };
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// One line on an endpoint's state: disabled (why, since when), replaying,
/// or enabled, with its failures of the last 24 hours.
pub fn describe_state(state: &HealthState, now: OffsetDateTime) -> String {
    let (attempts, failures) = state.window(now, 24);
    let recent = if attempts > 0 {
        format!("{failures}/{attempts} failed in 24 h")
    } else {
        "no recent failures".into()
    };
    match (&state.disabled, state.replaying_since) {
        (Some(d), _) => format!(
            "DISABLED ({:?}: {}) since {}; {recent}",
            d.trigger,
            d.reason,
            hookrelay_shared::clock::iso_millis(d.at)
        ),
        (None, Some(since)) => format!(
            "REPLAYING parked jobs since {} (new jobs are parked behind them; \
             `endpoints enable` again resumes an interrupted replay); {recent}",
            hookrelay_shared::clock::iso_millis(since)
        ),
        (None, None) => format!("enabled; {recent}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_keys_and_header_values() {
        let v = serde_json::json!({
            "signature": {"keys": ["k1", {"secret": "k2", "not_after": "2030-01-01T00:00:00Z"}], "clients": {"c": ["k3"]}},
            "headers": {"Authorization": "Bearer t"}
        });
        let text = redacted(v).to_string();
        for s in ["k1", "k2", "k3", "Bearer t"] {
            assert!(!text.contains(&format!("\"{s}\"")), "{s} leaked: {text}");
        }
        assert!(text.contains("not_after"));
    }
}
