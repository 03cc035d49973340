//! Parsing configuration secrets without quoting them in errors.
//!
//! serde_json's data errors quote the offending value (`invalid type:
//! string "s3cr3t", expected a sequence`), and configuration errors are
//! logged and copied into dead-letter attributes. [`parse`] reports where
//! the problem is (the field path, line and column) and what kind of
//! problem it is, keeping only text that comes from the schema (field
//! names, what was expected), never a value from the secret.

use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// Deserializes a configuration; the error names the field path and the
/// kind of problem, never a value.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| describe(&e))?;
    // Trailing characters after the document are a syntax error.
    de.end().map_err(|e| locate("", &e, syntax_problem(&e)))?;
    Ok(value)
}

fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let path = e.path().to_string();
    // "." is the document itself, "?" a place serde_path_to_error did not
    // reach (syntax errors).
    let path = match path.as_str() {
        "." | "?" => String::new(),
        _ => path,
    };
    let what = match inner.classify() {
        Category::Data => data_problem(&message(inner)),
        Category::Syntax | Category::Eof | Category::Io => syntax_problem(inner),
    };
    locate(&path, inner, what)
}

fn locate(path: &str, e: &serde_json::Error, what: String) -> String {
    let at = format!("line {} column {}", e.line(), e.column());
    if path.is_empty() {
        format!("{what} at {at}")
    } else {
        format!("{path}: {what} at {at}")
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// Syntax errors are fixed texts of serde_json's parser ("expected `,` or
/// `}`", "EOF while parsing a string", ...): they never contain input.
fn syntax_problem(e: &serde_json::Error) -> String {
    match e.classify() {
        Category::Io => "could not be read".into(),
        _ => format!("not valid JSON ({})", message(e)),
    }
}

/// The schema's part of a data error. serde's messages have a few fixed
/// shapes; anything else (a custom message from a deserializer) may quote
/// input, so it becomes a plain "invalid value".
fn data_problem(msg: &str) -> String {
    // What serde expected comes from the schema. The unexpected value comes
    // first, so the last ", expected " is the separator even when the value
    // itself contains that text.
    let expected = msg
        .rsplit_once(", expected ")
        .map(|(_, exp)| format!(", expected {exp}"))
        .unwrap_or_default();
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        return format!("invalid type: {}{expected}", unexpected_kind(rest));
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        return format!("invalid value: {}{expected}", unexpected_kind(rest));
    }
    if msg.starts_with("invalid length ") {
        // "invalid length 3, expected ...": a count, not a value.
        return msg.to_string();
    }
    if msg.starts_with("unknown variant ") {
        // The variant is a value (a scheme name, an encoding): not repeated.
        return format!("unknown variant{expected}");
    }
    // Field names are keys of the configuration, not values.
    for prefix in ["unknown field `", "missing field `", "duplicate field `"] {
        if msg.starts_with(prefix) {
            return msg.to_string();
        }
    }
    "invalid value".into()
}

/// `string "s3cr3t"` -> `string`; `integer `5`` -> `integer`; `map` -> `map`.
fn unexpected_kind(rest: &str) -> &str {
    let unexpected = rest
        .rsplit_once(", expected ")
        .map(|(u, _)| u)
        .unwrap_or(rest);
    let end = unexpected
        .find(['"', '`', '\''])
        .unwrap_or(unexpected.len());
    let kind = unexpected[..end].trim();
    if kind.is_empty() { "value" } else { kind }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        keys: Vec<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
    }

    fn err(text: &str) -> String {
        parse::<Cfg>(text).unwrap_err()
    }

    #[test]
    fn wrong_types_name_the_path_and_never_the_value() {
        let e = err(r#"{"keys":"s3cr3t"}"#);
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(
            e.starts_with("keys: invalid type: string, expected a sequence"),
            "{e}"
        );
        assert!(e.contains("line 1 column"), "{e}");

        let e = err(r#"{"keys":["a"],"headers":"Bearer hunter2"}"#);
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.starts_with("headers: invalid type: string"), "{e}");

        let e = err(r#"{"keys":["a"],"headers":{"Authorization":42}}"#);
        assert!(
            e.starts_with("headers.Authorization: invalid type: integer"),
            "{e}"
        );
        assert!(!e.contains("42"), "{e}");

        // A value that contains serde's own separator text is still not quoted.
        let e = err(r#"{"keys":"x, expected y s3cr3t"}"#);
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn unknown_variants_keep_the_choices_not_the_value() {
        let e = err(r#"{"keys":[],"mode":"s3cr3t"}"#);
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.starts_with("mode: unknown variant, expected"), "{e}");
        assert!(e.contains("fast"), "{e}");
    }

    #[test]
    fn field_errors_and_syntax_errors_stay_useful() {
        assert!(err(r#"{"kyes":[]}"#).contains("unknown field `kyes`"));
        assert!(err(r#"{}"#).contains("missing field `keys`"));
        let e = err(r#"{"keys":["s3cr3t"]"#);
        assert!(e.starts_with("not valid JSON"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let e = err(r#"{"keys":["a"]} s3cr3t"#);
        assert!(e.starts_with("not valid JSON"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(err(r#"{"keys":[],"n":-1}"#).starts_with("n: invalid value: integer"));
    }
}
