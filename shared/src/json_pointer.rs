//! RFC 6901 JSON pointer lookup over raw JSON text, without building a tree.
//!
//! `serde_json::Value::pointer` needs the whole document parsed into a
//! `Value` first; the receiver only wants one short string (an event type,
//! a delivery id) out of bodies up to hundreds of KiB, so it walks the
//! document with a visitor that skips every member it does not need.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The raw JSON text of the value at `pointer` (e.g. `/data/type`), or
/// `None` when the document has no such member. `pointer` "" is the root.
pub fn lookup<'a>(json: &'a str, pointer: &str) -> Result<Option<&'a RawValue>, serde_json::Error> {
    let mut current: &'a RawValue = serde_json::from_str(json)?;
    if pointer.is_empty() {
        return Ok(Some(current));
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Ok(None);
    };
    for token in rest.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        let mut de = serde_json::Deserializer::from_str(current.get());
        match (Step { token: &token }).deserialize(&mut de)? {
            Some(next) => current = next,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// A string value at `pointer` as text; numbers and booleans as their JSON
/// text; `None` for a missing member, null, objects and arrays.
pub fn lookup_scalar(json: &str, pointer: &str) -> Result<Option<String>, serde_json::Error> {
    let Some(raw) = lookup(json, pointer)? else {
        return Ok(None);
    };
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'"') => Some(serde_json::from_str::<String>(text)?),
        Some(b'{' | b'[') | None => None,
        _ if text == "null" => None,
        _ => Some(text.to_string()),
    })
}

/// One step of a pointer: a member of an object or an index of an array.
struct Step<'t> {
    token: &'t str,
}

impl<'de> DeserializeSeed<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.token {
                // JSON.parse semantics: the last duplicate wins.
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // RFC 6901 array-index: "0" or digits without a leading zero (a
        // bare `parse` would also take "+1").
        let canonical = match self.token.as_bytes() {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        let wanted: Option<usize> = self.token.parse().ok().filter(|_| canonical);
        let mut found = None;
        let mut i = 0usize;
        loop {
            if Some(i) == wanted {
                match seq.next_element::<&'de RawValue>()? {
                    Some(v) => found = Some(v),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Checks that `pointer` is a syntactically valid JSON pointer.
pub fn validate(pointer: &str) -> Result<(), String> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "JSON pointer {pointer:?} must be empty or start with '/'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        r#"{"type":"order.created","data":{"id":7,"tags":["a","b"],"a/b":1,"m~n":2},"type2":null}"#;

    #[test]
    fn finds_nested_members_and_array_items() {
        assert_eq!(
            lookup_scalar(DOC, "/type").unwrap().as_deref(),
            Some("order.created")
        );
        assert_eq!(
            lookup_scalar(DOC, "/data/id").unwrap().as_deref(),
            Some("7")
        );
        assert_eq!(
            lookup_scalar(DOC, "/data/tags/1").unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(
            lookup_scalar(DOC, "/data/a~1b").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(
            lookup_scalar(DOC, "/data/m~0n").unwrap().as_deref(),
            Some("2")
        );
        assert_eq!(
            lookup(DOC, "/data/tags").unwrap().unwrap().get(),
            r#"["a","b"]"#
        );
    }

    #[test]
    fn missing_null_and_structured_values_give_none() {
        assert_eq!(lookup_scalar(DOC, "/nope").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/type2").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data/tags/5").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data/tags/01").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/type/x").unwrap(), None);
    }

    /// RFC 6901's array-index is `0` or digits without a leading zero;
    /// Rust's `usize::from_str` also takes a leading `+`. Found by reading
    /// while writing the fuzz target that compares `lookup` with
    /// `serde_json::Value::pointer` (fuzz/regressions/json_pointer/).
    #[test]
    fn array_indices_are_rfc_6901_ones() {
        assert_eq!(lookup_scalar(DOC, "/data/tags/+1").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data/tags/-1").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data/tags/ 1").unwrap(), None);
        assert_eq!(lookup_scalar(DOC, "/data/tags/1 ").unwrap(), None);
        assert_eq!(
            lookup_scalar(DOC, "/data/tags/0").unwrap().as_deref(),
            Some("a")
        );
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(lookup("{", "/a").is_err());
        assert!(lookup(r#"{"a":1} x"#, "/a").is_err());
    }

    #[test]
    fn last_duplicate_wins_like_json_parse() {
        assert_eq!(
            lookup_scalar(r#"{"e":"a","e":"b"}"#, "/e")
                .unwrap()
                .as_deref(),
            Some("b")
        );
    }
}
