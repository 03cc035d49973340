//! A validator of CloudWatch embedded metric format documents, written
//! from AWS's "Specification: Embedded metric format" (CloudWatch user
//! guide) and its JSON schema, not from hookrelay's emitter, so that the
//! tests check the functions' output against what CloudWatch Logs accepts.
//!
//! What it checks, with the specification's words:
//! - the log event is "a valid JSON object with no additional data at the
//!   beginning or end", at most 256 KB (a CloudWatch Logs event);
//! - `_aws` "MUST be an object" with `CloudWatchMetrics` (an array of
//!   MetricDirective objects) and `Timestamp` ("a number ... milliseconds
//!   after Jan 1, 1970"; the schema: an integer);
//! - a MetricDirective "MUST contain" `Namespace` (a string; the schema:
//!   1 to 255 characters), `Dimensions` (a DimensionSet array; the schema:
//!   at least one set) and `Metrics` (which "MUST NOT contain more than 100
//!   MetricDefinition objects"), and no other member;
//! - a DimensionSet is an array of strings that "MUST NOT contain more
//!   than 30 dimension keys" and "MAY be empty"; each key must be a member
//!   of the root ("target member") with a string value (CloudWatch's
//!   `Dimension` also wants 1 to 1024 characters);
//! - a MetricDefinition "MUST contain" `Name` (1 to 255 characters) and
//!   MAY contain `Unit` (one of CloudWatch's units) and
//!   `StorageResolution` (1 or 60), nothing else; the target member of its
//!   name "MUST be a numeric value or an array of numeric values", and
//!   such an array "MUST NOT have more than 100 members".

use serde_json::{Map, Value};

/// The CloudWatch units the schema lists.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric as CloudWatch would extract it from a document: namespace,
/// name, the dimensions of one dimension set, and the value(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub namespace: String,
    pub name: String,
    pub unit: Option<String>,
    pub dimensions: Vec<(String, String)>,
    pub values: Vec<f64>,
}

impl Extracted {
    /// The sum of the values (a count's value).
    pub fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    pub fn dimension(&self, key: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a log line is meant as an EMF document (an object with `_aws`).
pub fn is_emf(line: &str) -> bool {
    serde_json::from_str::<Map<String, Value>>(line.trim())
        .map(|m| m.contains_key("_aws"))
        .unwrap_or(false)
}

/// Validates one log event; returns the metrics CloudWatch would extract
/// (one per metric and dimension set), or what is wrong.
pub fn validate(line: &str) -> Result<Vec<Extracted>, String> {
    if line.len() > 256 * 1024 {
        return Err(format!(
            "{} bytes: more than a log event's 256 KB",
            line.len()
        ));
    }
    let root: Map<String, Value> = serde_json::from_str(line)
        .map_err(|e| format!("not a JSON object alone on the line: {e}"))?;
    let aws = root
        .get("_aws")
        .ok_or("no _aws member")?
        .as_object()
        .ok_or("_aws is not an object")?;
    match aws.get("Timestamp") {
        Some(Value::Number(n)) if n.is_u64() => {}
        Some(other) => return Err(format!("_aws.Timestamp is not an integer: {other}")),
        None => return Err("no _aws.Timestamp".into()),
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .ok_or("no _aws.CloudWatchMetrics")?
        .as_array()
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let mut out = Vec::new();
    for (i, d) in directives.iter().enumerate() {
        let d = d
            .as_object()
            .ok_or_else(|| format!("directive {i} is not an object"))?;
        if let Some(extra) = d
            .keys()
            .find(|k| !["Namespace", "Dimensions", "Metrics"].contains(&k.as_str()))
        {
            return Err(format!(
                "directive {i} has a member the specification does not define: {extra}"
            ));
        }
        let namespace = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("directive {i}: Namespace missing or not a string"))?;
        if namespace.is_empty() || namespace.chars().count() > 255 {
            return Err(format!(
                "directive {i}: Namespace must be 1 to 255 characters"
            ));
        }
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("directive {i}: Dimensions missing or not an array"))?;
        if sets.is_empty() {
            return Err(format!("directive {i}: Dimensions holds no DimensionSet"));
        }
        let mut dimension_sets: Vec<Vec<(String, String)>> = Vec::new();
        for set in sets {
            let keys = set
                .as_array()
                .ok_or_else(|| format!("directive {i}: a DimensionSet is not an array"))?;
            if keys.len() > 30 {
                return Err(format!(
                    "directive {i}: a DimensionSet has {} keys (at most 30)",
                    keys.len()
                ));
            }
            let mut dims = Vec::new();
            for k in keys {
                let k = k
                    .as_str()
                    .ok_or_else(|| format!("directive {i}: a dimension key is not a string"))?;
                if k.is_empty() || k.chars().count() > 255 {
                    return Err(format!(
                        "directive {i}: dimension key {k:?} must be 1 to 255 characters"
                    ));
                }
                let v = match root.get(k) {
                    Some(Value::String(v)) => v,
                    Some(_) => return Err(format!("dimension target {k} is not a string")),
                    None => return Err(format!("dimension {k} is not a member of the root")),
                };
                if v.is_empty() || v.chars().count() > 1024 {
                    return Err(format!(
                        "dimension {k}: the value must be 1 to 1024 characters"
                    ));
                }
                dims.push((k.to_string(), v.clone()));
            }
            dimension_sets.push(dims);
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("directive {i}: Metrics missing or not an array"))?;
        if metrics.len() > 100 {
            return Err(format!(
                "directive {i}: {} metric definitions (at most 100)",
                metrics.len()
            ));
        }
        for m in metrics {
            let m = m
                .as_object()
                .ok_or_else(|| format!("directive {i}: a MetricDefinition is not an object"))?;
            if let Some(extra) = m
                .keys()
                .find(|k| !["Name", "Unit", "StorageResolution"].contains(&k.as_str()))
            {
                return Err(format!(
                    "a MetricDefinition has a member the specification does not define: {extra}"
                ));
            }
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a MetricDefinition has no Name string")?;
            if name.is_empty() || name.chars().count() > 255 {
                return Err(format!("metric name {name:?} must be 1 to 255 characters"));
            }
            let unit = match m.get("Unit") {
                None => None,
                Some(Value::String(u)) if UNITS.contains(&u.as_str()) => Some(u.clone()),
                Some(other) => {
                    return Err(format!("{name}: Unit {other} is not a CloudWatch unit"));
                }
            };
            match m.get("StorageResolution") {
                None => {}
                Some(Value::Number(n)) if n.as_u64() == Some(1) || n.as_u64() == Some(60) => {}
                Some(other) => {
                    return Err(format!("{name}: StorageResolution {other} is not 1 or 60"));
                }
            }
            let values = match root.get(name) {
                Some(Value::Number(n)) => vec![n.as_f64().ok_or("not a number")?],
                Some(Value::Array(a)) => {
                    if a.len() > 100 {
                        return Err(format!("{name}: {} values (at most 100)", a.len()));
                    }
                    a.iter()
                        .map(|x| {
                            x.as_f64()
                                .ok_or_else(|| format!("{name}: a value is not a number"))
                        })
                        .collect::<Result<Vec<f64>, String>>()?
                }
                Some(other) => return Err(format!("{name}: the target is not numeric: {other}")),
                None => return Err(format!("metric {name} is not a member of the root")),
            };
            for dims in &dimension_sets {
                out.push(Extracted {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    unit: unit.clone(),
                    dimensions: dims.clone(),
                    values: values.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Validates every EMF line of a log (other lines are skipped) and returns
/// what they publish, or the first invalid line with the reason.
pub fn validate_log(text: &str) -> Result<Vec<Extracted>, String> {
    let mut all = Vec::new();
    for line in text.lines().filter(|l| is_emf(l)) {
        all.extend(validate(line.trim()).map_err(|e| format!("{e}: {line}"))?);
    }
    Ok(all)
}

/// The sum of a metric over documents, for one exact set of dimensions
/// (`&[]`: the total).
pub fn total(metrics: &[Extracted], name: &str, dimensions: &[(&str, &str)]) -> f64 {
    metrics
        .iter()
        .filter(|m| m.name == name)
        .filter(|m| {
            m.dimensions.len() == dimensions.len()
                && dimensions.iter().all(|(k, v)| m.dimension(k) == Some(*v))
        })
        .map(Extracted::sum)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example.
    const EXAMPLE: &str = r#"{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"lambda-function-metrics","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds"}]}]},"functionVersion":"$LATEST","time":100,"requestId":"989ffbf8-9ace-4817-a57c-e4dd734019ee"}"#;

    #[test]
    fn the_specifications_example_is_valid() {
        let m = validate(EXAMPLE).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "time");
        assert_eq!(
            m[0].dimensions,
            vec![("functionVersion".into(), "$LATEST".into())]
        );
        assert_eq!(m[0].values, vec![100.0]);
    }

    fn broken(f: impl Fn(&mut Value)) -> Result<Vec<Extracted>, String> {
        let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
        f(&mut v);
        validate(&v.to_string())
    }

    #[test]
    fn what_the_specification_forbids_is_refused() {
        let d = "/_aws/CloudWatchMetrics/0";
        type Break = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Break)> = vec![
            (
                "no timestamp",
                Box::new(|v| {
                    v["_aws"].as_object_mut().unwrap().remove("Timestamp");
                }),
            ),
            (
                "timestamp as text",
                Box::new(|v| v["_aws"]["Timestamp"] = "1574109732004".into()),
            ),
            (
                "no directives",
                Box::new(|v| {
                    v["_aws"]
                        .as_object_mut()
                        .unwrap()
                        .remove("CloudWatchMetrics");
                }),
            ),
            (
                "no namespace",
                Box::new(move |v| {
                    v.pointer_mut(d)
                        .unwrap()
                        .as_object_mut()
                        .unwrap()
                        .remove("Namespace");
                }),
            ),
            (
                "extra directive member",
                Box::new(move |v| v.pointer_mut(d).unwrap()["Other"] = 1.into()),
            ),
            (
                "no dimension sets",
                Box::new(move |v| v.pointer_mut(d).unwrap()["Dimensions"] = serde_json::json!([])),
            ),
            (
                "31 dimensions",
                Box::new(move |v| {
                    let keys: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
                    for k in &keys {
                        v[k.as_str()] = "x".into();
                    }
                    v.pointer_mut(d).unwrap()["Dimensions"] = serde_json::json!([keys]);
                }),
            ),
            (
                "dimension not a member",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("functionVersion");
                }),
            ),
            (
                "dimension not a string",
                Box::new(|v| v["functionVersion"] = 1.into()),
            ),
            (
                "metric not a member",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("time");
                }),
            ),
            ("metric not numeric", Box::new(|v| v["time"] = "100".into())),
            (
                "101 values",
                Box::new(|v| v["time"] = serde_json::json!(vec![1; 101])),
            ),
            (
                "unknown unit",
                Box::new(move |v| {
                    v.pointer_mut(d).unwrap()["Metrics"][0]["Unit"] = "Parsecs".into()
                }),
            ),
            (
                "101 metrics",
                Box::new(move |v| {
                    let defs: Vec<Value> = (0..101)
                        .map(|i| {
                            v[format!("m{i}").as_str()] = 1.into();
                            serde_json::json!({"Name": format!("m{i}")})
                        })
                        .collect();
                    v.pointer_mut(d).unwrap()["Metrics"] = Value::Array(defs);
                }),
            ),
        ];
        for (what, f) in cases {
            assert!(broken(f).is_err(), "{what} was accepted");
        }
        assert!(validate(&format!("{EXAMPLE} trailing")).is_err());
        assert!(validate(&format!("START {EXAMPLE}")).is_err());
    }

    #[test]
    fn an_empty_dimension_set_and_value_arrays_are_allowed() {
        let line = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[],["S"]],"Metrics":[{"Name":"t"}]}]},"S":"a","t":[1,2,3]}"#;
        let m = validate(line).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(total(&m, "t", &[]), 6.0);
        assert_eq!(total(&m, "t", &[("S", "a")]), 6.0);
    }
}
