//! `JSON.stringify(JSON.parse(text))`, byte for byte, in Rust.
//!
//! Some senders (Leanbe) sign `JSON.stringify(payload)` but deliver the
//! payload pretty-printed, so to check the signature we must rebuild the exact
//! compact text JavaScript would produce. That differs from serde_json's own
//! output in three ways this module takes care of:
//!
//! - property order: JavaScript lists "array index" keys (`"0"`, `"15"`, ...)
//!   first in ascending numeric order, then the other keys in the order they
//!   were created; a duplicate key keeps its first position and its last value;
//! - numbers: every number is an `f64` printed by ECMAScript's
//!   `Number::toString` (`1.0` -> `1`, `1e21` -> `1e+21`, `2^64-1` ->
//!   `18446744073709552000`), which `ryu_js` implements;
//! - strings: only `"`, `\` and control characters are escaped, with
//!   lowercase hex.
//!
//! Known differences, all of which make us return an error where JavaScript
//! would produce text (so signature checks fail closed):
//!
//! - a number too large for an `f64` (`1e400`): JavaScript parses `Infinity`
//!   and prints `null`; serde_json rejects it. A JavaScript sender never emits
//!   such a literal, so a body containing one cannot be genuine anyway;
//! - a lone surrogate escape (`"\ud800"`): JavaScript keeps it, serde_json
//!   (and a Rust `String`) cannot;
//! - nesting deeper than 127 containers: serde_json's limit, which also keeps
//!   our recursive writer safe; JavaScript allows thousands of levels.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Error for text that is not valid JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsStringifyError {
    #[error("invalid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
}

/// What `JSON.stringify(JSON.parse(text))` returns in JavaScript.
pub fn js_stringify(text: &[u8]) -> Result<String, JsStringifyError> {
    let value: JsValue = serde_json::from_slice(text)?;
    let mut out = String::with_capacity(text.len());
    write_value(&value, &mut out);
    Ok(out)
}

/// Same, appending to `out` (lets callers reuse a buffer).
pub fn js_stringify_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), JsStringifyError> {
    // Parse fully before writing, so `out` is left untouched on error.
    let value: JsValue = serde_json::from_slice(text)?;
    out.reserve(text.len());
    write_value(&value, out);
    Ok(())
}

/// What the text of a JSON value says that `JSON.stringify(JSON.parse(text))`
/// does not: a signature over the latter does not pin the former down,
/// because parsers disagree about it (Leanbe signs the re-serialization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ambiguity {
    /// An object names a member twice: JavaScript keeps the last value,
    /// other parsers the first, some refuse.
    #[error("an object has a duplicate member name")]
    DuplicateKey,
    /// A number literal whose value a double does not hold exactly
    /// (`9007199254740993`, `0.10000000000000000001`, `1e-400`): JavaScript
    /// signs the rounded value, parsers with exact integers or decimals read
    /// another.
    #[error("a number does not survive a round trip through a double")]
    InexactNumber,
}

/// Why a signature over `js_stringify(text)` would not cover `text` itself,
/// if it would not. `text` must be valid JSON (call after [`js_stringify`]
/// succeeded); `1.0`, `1e2`, escapes, whitespace and the order of
/// integer-like keys are not ambiguities: every parser reads the same values.
pub fn ambiguity(text: &[u8]) -> Option<Ambiguity> {
    if has_duplicate_key(text) {
        return Some(Ambiguity::DuplicateKey);
    }
    if number_literals(text).any(|literal| !survives_a_double(literal)) {
        return Some(Ambiguity::InexactNumber);
    }
    None
}

/// True when some object of `text` (at any depth) names a member twice.
fn has_duplicate_key(text: &[u8]) -> bool {
    let found = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(text);
    // An error here is either the duplicate we stop at or JSON that
    // js_stringify would have refused already.
    let _ = de::DeserializeSeed::deserialize(DuplicateSeed(&found), &mut de);
    found.get()
}

/// Walks a JSON value without building it, stopping at the first object
/// that repeats a member name.
#[derive(Clone, Copy)]
struct DuplicateSeed<'a>(&'a std::cell::Cell<bool>);

impl<'de> de::DeserializeSeed<'de> for DuplicateSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys as decoded: `"a"` and `"\u0061"` are the same member.
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                self.0.set(true);
                return Err(de::Error::custom("duplicate member name"));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// The number literals of valid JSON text, as written.
fn number_literals(text: &[u8]) -> impl Iterator<Item = &str> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < text.len() {
            match text[i] {
                b'"' => {
                    // Skip the string; `\"` does not end it.
                    i += 1;
                    while i < text.len() {
                        match text[i] {
                            b'\\' => i += 2,
                            b'"' => {
                                i += 1;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while i < text.len()
                        && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    {
                        i += 1;
                    }
                    // ASCII by construction.
                    return std::str::from_utf8(&text[start..i]).ok();
                }
                _ => i += 1,
            }
        }
        None
    })
}

/// True when the literal's exact decimal value is that of the nearest
/// double, i.e. what JavaScript prints for it (`1.0` and `1E0` are `1`).
fn survives_a_double(literal: &str) -> bool {
    let Ok(value) = literal.parse::<f64>() else {
        return false;
    };
    if !value.is_finite() {
        return false;
    }
    let printed = ryu_js::Buffer::new().format_finite(value).to_string();
    match (decimal(literal), decimal(&printed)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A decimal literal's exact value as (negative, significant digits without
/// leading or trailing zeros, power of ten of the last digit); zero is
/// `(false, [], 0)` whatever its sign. `None` for an exponent out of range.
fn decimal(literal: &str) -> Option<(bool, Vec<u8>, i64)> {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut power = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
        power = power.checked_add(1)?;
    }
    Some((negative, digits, power))
}

/// A parsed JSON value as JavaScript holds it.
///
/// Only this module's `Deserialize` impl builds one, and serde_json refuses to
/// nest deeper than 128 levels, so the recursive writer and the recursive drop
/// are bounded too.
#[derive(Debug)]
enum JsValue {
    Null,
    Bool(bool),
    /// JavaScript has a single number type: an IEEE 754 double.
    Number(f64),
    String(String),
    Array(Vec<JsValue>),
    /// Entries already in JavaScript's property order, keys unique.
    Object(Vec<(String, JsValue)>),
}

impl<'de> Deserialize<'de> for JsValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsValueVisitor)
    }
}

struct JsValueVisitor;

impl<'de> Visitor<'de> for JsValueVisitor {
    type Value = JsValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsValue, E> {
        Ok(JsValue::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsValue, E> {
        Ok(JsValue::Bool(v))
    }

    // serde_json hands out integer literals as exact integers; `as` rounds them
    // to the nearest double, which is what JavaScript does with the literal.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    // With the `float_roundtrip` feature this is correctly rounded, as in JS.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsValue, E> {
        Ok(JsValue::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<JsValue, E> {
        Ok(JsValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsValue, A::Error> {
        let mut entries: Vec<(String, JsValue)> = Vec::new();
        // Key -> index in `entries`. A hash map rather than a linear scan keeps
        // an object with many keys from costing quadratic time.
        let mut positions: HashMap<String, usize> = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: JsValue = map.next_value()?;
            match positions.entry(key) {
                // JSON.parse redefines the existing property: the value is
                // replaced but the property keeps its place.
                Entry::Occupied(slot) => entries[*slot.get()].1 = value,
                Entry::Vacant(slot) => {
                    entries.push((slot.key().clone(), value));
                    slot.insert(entries.len() - 1);
                }
            }
        }
        // Array indices first, ascending; the stable sort leaves the other keys
        // in creation order.
        entries.sort_by_key(|(key, _)| match array_index(key) {
            Some(index) => (false, index),
            None => (true, 0),
        });
        Ok(JsValue::Object(entries))
    }
}

/// The numeric value of `key` if ECMAScript calls it an array index: the
/// canonical decimal form of an integer in `0..=2^32 - 2`.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    // Canonical means no sign, no leading zero (except "0" itself), only
    // digits; `u32::from_str` alone would accept "+1" and "01".
    let canonical = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    // Overflowing u32 fails the parse; 2^32 - 1 is a valid u32 but not an index.
    key.parse::<u32>().ok().filter(|&index| index != u32::MAX)
}

/// Where the output goes: a `String` for `js_stringify`, a byte buffer for
/// `js_stringify_into`. Writing only `&str` keeps both valid UTF-8 without
/// any conversion that could fail.
trait Sink {
    fn push_str(&mut self, s: &str);
}

impl Sink for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

impl Sink for Vec<u8> {
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

fn write_value(value: &JsValue, out: &mut impl Sink) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(true) => out.push_str("true"),
        JsValue::Bool(false) => out.push_str("false"),
        JsValue::Number(n) => write_number(*n, out),
        JsValue::String(s) => write_string(s, out),
        JsValue::Array(items) => {
            out.push_str("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",");
                }
                write_value(item, out);
            }
            out.push_str("]");
        }
        JsValue::Object(entries) => {
            out.push_str("{");
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(",");
                }
                write_string(key, out);
                out.push_str(":");
                write_value(item, out);
            }
            out.push_str("}");
        }
    }
}

fn write_number(n: f64, out: &mut impl Sink) {
    // JSON.stringify writes NaN and ±Infinity as null. serde_json never yields
    // them, but `ryu_js` would print "NaN"/"Infinity", which is not JSON.
    if n.is_finite() {
        // `ryu_js` is ECMAScript's Number::toString, including -0 -> "0".
        out.push_str(ryu_js::Buffer::new().format_finite(n));
    } else {
        out.push_str("null");
    }
}

/// ECMAScript's QuoteJSONString for well-formed strings (a Rust `str` cannot
/// hold the lone surrogates that JavaScript would write as `\udXXX`).
fn write_string(s: &str, out: &mut impl Sink) {
    const HEX_DIGITS: &str = "0123456789abcdef";
    out.push_str("\"");
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\x08' => "\\b",
            b'\x0c' => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x0f => "\\u000",
            0x10..=0x1f => "\\u001",
            // Everything else, `/`, DEL and all non-ASCII included, is copied.
            _ => continue,
        };
        // `i` is at an ASCII byte, hence on a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(escape);
        if escape.starts_with("\\u") {
            let low = usize::from(byte & 0x0f);
            out.push_str(&HEX_DIGITS[low..=low]);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push_str("\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts both entry points give `expected` for `input`.
    #[track_caller]
    fn check(input: &str, expected: &str) {
        let got = js_stringify(input.as_bytes())
            .unwrap_or_else(|e| panic!("{input:?} should be accepted: {e}"));
        assert_eq!(got, expected, "input: {input:?}");
        let mut buf = b"prefix:".to_vec();
        js_stringify_into(input.as_bytes(), &mut buf)
            .unwrap_or_else(|e| panic!("{input:?} should be accepted: {e}"));
        assert_eq!(
            buf,
            format!("prefix:{expected}").into_bytes(),
            "input: {input:?}"
        );
    }

    // Every expected output below was produced by node v20.20.2 running
    // `JSON.stringify(JSON.parse(input))`.

    #[test]
    fn array_index_keys_come_first_in_numeric_order() {
        check(
            r#"{"b":1,"a":2,"10":3,"2":4,"01":5,"-1":6,"1.0":7,"4294967295":8,"4294967294":9,"0":10,"":11}"#,
            r#"{"0":10,"2":4,"10":3,"4294967294":9,"b":1,"a":2,"01":5,"-1":6,"1.0":7,"4294967295":8,"":11}"#,
        );
        check(
            r#"{"9007199254740993":1, "4294967296":2, "1":3, "+1":4, " 1":5}"#,
            r#"{"1":3,"9007199254740993":1,"4294967296":2,"+1":4," 1":5}"#,
        );
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        check(r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#);
        check(r#"{"x":1,"5":2,"x":3,"5":4}"#, r#"{"5":4,"x":3}"#);
        check(r#"{"a":{"p":1},"b":0,"a":[2]}"#, r#"{"a":[2],"b":0}"#);
    }

    #[test]
    fn proto_key_is_an_ordinary_property() {
        check(r#"{"__proto__":1,"a":2}"#, r#"{"__proto__":1,"a":2}"#);
    }

    #[test]
    fn numbers_follow_number_to_string() {
        let cases = [
            ("1.0", "1"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("1e-7", "1e-7"),
            ("0.000001", "0.000001"),
            ("123456789012345678901234567890", "1.2345678901234568e+29"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("0.1", "0.1"),
            ("5e-324", "5e-324"),
            ("2.5e-324", "5e-324"),
            ("1e-400", "0"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("18446744073709551615", "18446744073709552000"),
            ("9007199254740993", "9007199254740992"),
            ("-9223372036854775808", "-9223372036854776000"),
            ("123e-20", "1.23e-18"),
            ("1E+2", "100"),
            ("1e23", "1e+23"),
            ("4.35", "4.35"),
            ("1e15", "1000000000000000"),
            ("123456789012345680000", "123456789012345680000"),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
        check(
            "[1.0,1e21,-0,0.1,18446744073709551615]",
            "[1,1e+21,0,0.1,18446744073709552000]",
        );
    }

    #[test]
    fn non_finite_numbers_print_as_null() {
        // Unreachable from serde_json, but JSON.stringify(NaN/Infinity) is "null".
        for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut out = String::new();
            write_number(n, &mut out);
            assert_eq!(out, "null");
        }
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        check(
            r#""\u0000\u001f\u007f\b\f\n\r\t\/\"\\\u2028\u2029😀é\ud83d\ude00""#,
            "\"\\u0000\\u001f\u{7f}\\b\\f\\n\\r\\t/\\\"\\\\\u{2028}\u{2029}😀é😀\"",
        );
        check(
            r#""\u0001\u000B\u001A\u0010""#,
            r#""\u0001\u000b\u001a\u0010""#,
        );
        check(r#"{"k\n\u00e9":"a/b"}"#, r#"{"k\né":"a/b"}"#);
    }

    #[test]
    fn pretty_printed_input_becomes_compact() {
        check(
            "{\n  \"event\": \"order.created\",\n  \"data\": {\n    \"id\": 42,\n    \"items\": [\n      1,\n      2.50\n    ],\n    \"2\": true,\n    \"ok\": null\n  }\n}\n",
            r#"{"event":"order.created","data":{"2":true,"id":42,"items":[1,2.5],"ok":null}}"#,
        );
        check(" \n {\n  \"a\" : [ ]\n } \n", r#"{"a":[]}"#);
        check("\t[ true ,\r\nfalse ]", "[true,false]");
    }

    #[test]
    fn empty_containers() {
        check("{}", "{}");
        check("[]", "[]");
        check(r#"{"a":{},"b":[[]]}"#, r#"{"a":{},"b":[[]]}"#);
        check(r#""""#, r#""""#);
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        // JSON.parse rejects all of these too (a leading BOM included); the
        // last one is invalid UTF-8, which a strict (`fatal`) decoder refuses
        // before JSON.parse sees it.
        let bad: [&[u8]; 9] = [
            b"",
            b"{\"a\":1,}",
            b"[1,]",
            b"\xef\xbb\xbf{}",
            b"{} {}",
            b"01",
            b"NaN",
            b"'a'",
            b"\"\xff\"",
        ];
        for input in bad {
            assert!(
                js_stringify(input).is_err(),
                "{:?} should be rejected",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rejects_what_serde_json_cannot_represent() {
        // JavaScript gives "null" for 1e400 and "\ud800" for a lone surrogate;
        // we refuse instead (see the module docs).
        for input in ["1e400", "-1e400", r#""\ud800""#] {
            assert!(js_stringify(input.as_bytes()).is_err(), "{input}");
        }
    }

    #[test]
    fn into_leaves_buffer_untouched_on_error() {
        let mut buf = b"keep".to_vec();
        assert!(js_stringify_into(b"[1,", &mut buf).is_err());
        assert_eq!(buf, b"keep");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // serde_json's limit: 127 nested containers pass, 128 do not.
        let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(
            js_stringify(ok.as_bytes()).ok().as_deref(),
            Some(ok.as_str())
        );
        let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(js_stringify(too_deep.as_bytes()).is_err());
        let hostile = "{\"a\":".repeat(100_000);
        assert!(js_stringify(hostile.as_bytes()).is_err());
    }

    #[test]
    fn ambiguities_are_what_parsers_read_differently() {
        for text in [
            r#"{"a":1,"b":2}"#,
            r#"{"a":1.0,"b":1e21,"c":-0,"d":0.1,"e":1E-7,"f":100e-2}"#,
            r#"{"2":1,"1":2,"x":[{"a":1},{"a":2}]}"#,
            r#"{"s":"\"a\":1,\"a\":2, 9007199254740993"}"#,
            "[9007199254740992, 18446744073709552000, 5e-324, 123456789012345680000]",
            "{\n  \"a\" : [ 1 , 2.50 ]\n}",
        ] {
            assert_eq!(ambiguity(text.as_bytes()), None, "{text}");
        }
        for text in [
            r#"{"status":"paid","status":"pending"}"#,
            r#"{"a":{"b":[{"c":1,"c":1}]}}"#,
            r#"{"a":1,"\u0061":1}"#,
        ] {
            assert_eq!(
                ambiguity(text.as_bytes()),
                Some(Ambiguity::DuplicateKey),
                "{text}"
            );
        }
        for text in [
            r#"{"id":9007199254740993}"#,
            r#"{"a":[0.10000000000000000001]}"#,
            "1e-400",
            "-18446744073709551615",
            "123456789012345678901234567890",
        ] {
            assert_eq!(
                ambiguity(text.as_bytes()),
                Some(Ambiguity::InexactNumber),
                "{text}"
            );
        }
    }

    #[test]
    fn decimal_values_are_normalized() {
        assert_eq!(decimal("1.0"), decimal("1"));
        assert_eq!(decimal("100e-2"), decimal("1"));
        assert_eq!(decimal("1e+21"), decimal("1000000000000000000000"));
        assert_eq!(decimal("-0.0"), decimal("0"));
        assert_ne!(decimal("-1"), decimal("1"));
        assert_eq!(decimal("1e99999999999999999999"), None);
    }

    #[test]
    fn array_index_recognition() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("15"), Some(15));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for key in [
            "",
            "01",
            "00",
            "-1",
            "+1",
            "1.0",
            "1e3",
            " 1",
            "4294967295",
            "99999999999",
        ] {
            assert_eq!(array_index(key), None, "{key:?}");
        }
    }

    /// A tiny deterministic generator (xorshift64*) for the differential test.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        /// Whitespace JSON allows between tokens, often none.
        fn ws(&mut self, out: &mut String) {
            for _ in 0..self.below(4).saturating_sub(1) {
                out.push_str(self.pick(&[" ", "  ", "\n", "\t", "\r\n"]));
            }
        }

        fn number(&mut self, out: &mut String) {
            match self.below(6) {
                0 => out.push_str(self.pick(&[
                    "0",
                    "-0",
                    "-0.0",
                    "1.0",
                    "1e21",
                    "1e-7",
                    "5e-324",
                    "1.7976931348623157e308",
                    "18446744073709551615",
                    "9007199254740993",
                    "-9223372036854775808",
                    "123456789012345678901234567890",
                    "0.1",
                    "1E+2",
                    "2.5e-324",
                    "1e-400",
                ])),
                1 => out.push_str(&(self.next() as i64).to_string()),
                2 => out.push_str(&self.below(1000).to_string()),
                _ => {
                    // Decimal literal with optional fraction and exponent.
                    if self.below(3) == 0 {
                        out.push('-');
                    }
                    let int = self.next() >> self.below(64);
                    out.push_str(&int.to_string());
                    if self.below(2) == 0 {
                        out.push('.');
                        for _ in 0..=self.below(20) {
                            out.push(char::from(b'0' + self.below(10) as u8));
                        }
                    }
                    if self.below(2) == 0 {
                        out.push_str(self.pick(&["e", "E", "e+", "e-", "E-"]));
                        // Up to e287: with a mantissa below 2^64 that stays
                        // finite (1e400 is a documented divergence).
                        out.push_str(&self.below(288).to_string());
                    }
                }
            }
        }

        fn string(&mut self, out: &mut String) {
            out.push('"');
            for _ in 0..self.below(8) {
                out.push_str(self.pick(&[
                    "a",
                    "Z",
                    "key",
                    " ",
                    "/",
                    "\\/",
                    "\\\"",
                    "\\\\",
                    "\\b",
                    "\\f",
                    "\\n",
                    "\\r",
                    "\\t",
                    "\\u0000",
                    "\\u001F",
                    "\\u007f",
                    "\\u2028",
                    "\u{2029}",
                    "é",
                    "\\u00e9",
                    "😀",
                    "\\ud83d\\ude00",
                    "中",
                    "\u{7f}",
                    "\\u0041",
                ]));
            }
            out.push('"');
        }

        fn key(&mut self, out: &mut String) {
            match self.below(3) {
                0 => out.push_str(self.pick(&[
                    "\"0\"",
                    "\"1\"",
                    "\"2\"",
                    "\"10\"",
                    "\"01\"",
                    "\"-1\"",
                    "\"1.0\"",
                    "\"4294967294\"",
                    "\"4294967295\"",
                    "\"4294967296\"",
                    "\"a\"",
                    "\"b\"",
                    "\"__proto__\"",
                    "\"\"",
                    "\"\\u0031\"",
                ])),
                1 => out.push_str(&format!("\"{}\"", self.below(50))),
                _ => self.string(out),
            }
        }

        fn value(&mut self, out: &mut String, depth: usize) {
            let kinds = if depth >= 5 { 4 } else { 6 };
            match self.below(kinds) {
                0 => out.push_str(self.pick(&["null", "true", "false"])),
                1 => self.number(out),
                2 | 3 => self.string(out),
                4 => {
                    out.push('[');
                    for i in 0..self.below(5) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        self.value(out, depth + 1);
                        self.ws(out);
                    }
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    for i in 0..self.below(7) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        self.key(out);
                        self.ws(out);
                        out.push(':');
                        self.ws(out);
                        self.value(out, depth + 1);
                        self.ws(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Runs `JSON.stringify(JSON.parse(text))` in one node process for every
    /// text; an input node rejects comes back as `null`.
    fn node_stringify_all(texts: &[String]) -> Vec<Option<String>> {
        use std::io::Write;
        use std::process::{Command, Stdio};

        const SCRIPT: &str = r#"
            const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
            const results = texts.map((t) => {
                try { return JSON.stringify(JSON.parse(t)); } catch { return null; }
            });
            process.stdout.write(JSON.stringify(results));
        "#;
        let mut child = Command::new("node")
            .args(["-e", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs `node` (v20+) on PATH as ground truth: {e}")
            });
        let input = serde_json::to_vec(texts).expect("serialize corpus");
        let mut stdin = child.stdin.take().expect("node stdin");
        // Write from another thread so a full stdout pipe cannot deadlock us.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().expect("wait for node");
        writer.join().expect("stdin writer").expect("write to node");
        assert!(output.status.success(), "node failed: {}", output.status);
        serde_json::from_slice(&output.stdout).expect("node output is a JSON array")
    }

    #[test]
    fn differential_against_node() {
        let mut generator = Gen(0x9e37_79b9_7f4a_7c15);
        let corpus: Vec<String> = (0..400)
            .map(|_| {
                let mut text = String::new();
                generator.ws(&mut text);
                generator.value(&mut text, 0);
                generator.ws(&mut text);
                text
            })
            .collect();
        let expected = node_stringify_all(&corpus);
        assert_eq!(expected.len(), corpus.len());

        let mut compared = 0;
        for (text, node) in corpus.iter().zip(expected) {
            match (js_stringify(text.as_bytes()), node) {
                (Ok(ours), Some(theirs)) => {
                    assert_eq!(ours, theirs, "input: {text:?}");
                    compared += 1;
                }
                (Err(e), None) => panic!("generator made invalid JSON {text:?}: {e}"),
                (Ok(ours), None) => panic!("node rejected {text:?}, we gave {ours:?}"),
                (Err(e), Some(theirs)) => {
                    panic!("we rejected {text:?} ({e}), node gave {theirs:?}")
                }
            }
        }
        assert_eq!(compared, corpus.len());
    }
}
