//! Signing keys as they are configured, and as schemes use them.
//!
//! A configuration holds a list of keys. The first is the primary: schemes
//! that can carry only one signature sign with it. During a rotation the
//! previous key stays in the list with an expiry (`not_after`) so that both
//! verify, and schemes that carry several signatures (Standard Webhooks,
//! Stripe) sign with every active key.

use super::mac::KeyedMac;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One key in a configuration: a bare string, or an object with an expiry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyConfig {
    Plain(String),
    WithExpiry {
        secret: String,
        #[serde(
            with = "time::serde::rfc3339::option",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        not_after: Option<OffsetDateTime>,
    },
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyConfig::Plain(_) => f.write_str("KeyConfig(<redacted>)"),
            KeyConfig::WithExpiry { not_after, .. } => {
                write!(f, "KeyConfig(<redacted>, not_after={not_after:?})")
            }
        }
    }
}

impl KeyConfig {
    pub fn secret(&self) -> &str {
        match self {
            KeyConfig::Plain(s) => s,
            KeyConfig::WithExpiry { secret, .. } => secret,
        }
    }

    pub fn not_after(&self) -> Option<OffsetDateTime> {
        match self {
            KeyConfig::Plain(_) => None,
            KeyConfig::WithExpiry { not_after, .. } => *not_after,
        }
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.not_after().is_none_or(|t| now <= t)
    }
}

/// How the configured key string becomes HMAC key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEncoding {
    /// The key's UTF-8 bytes, as most platforms use them.
    #[default]
    Utf8,
    Base64,
    Hex,
    /// `whsec_<base64>`: Standard Webhooks' format (the prefix is optional).
    Whsec,
}

impl KeyEncoding {
    pub fn decode(self, secret: &str) -> Result<Vec<u8>, String> {
        match self {
            KeyEncoding::Utf8 => Ok(secret.as_bytes().to_vec()),
            KeyEncoding::Hex => hex::decode(secret).map_err(|_| "key is not valid hex".to_string()),
            KeyEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(secret)
                .map_err(|_| "key is not valid base64".to_string()),
            KeyEncoding::Whsec => {
                let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| "key is not a valid whsec_<base64> secret".to_string())
            }
        }
    }
}

/// A key ready for use: keyed HMAC state plus the raw bytes for schemes that
/// compare a static value (token, basic).
#[derive(Clone)]
pub struct Key {
    pub mac: KeyedMac,
    pub raw: Vec<u8>,
    pub not_after: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<redacted>, not_after={:?})", self.not_after)
    }
}

impl Key {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.not_after.is_none_or(|t| now <= t)
    }
}

/// Compiled keys of one configuration, primary first.
#[derive(Clone, Debug, Default)]
pub struct KeyRing(pub Vec<Key>);

impl KeyRing {
    pub fn compile(keys: &[KeyConfig], encoding: KeyEncoding) -> Result<Self, String> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let raw = encoding
                    .decode(k.secret())
                    .map_err(|e| format!("keys[{i}]: {e}"))?;
                if raw.is_empty() {
                    return Err(format!("keys[{i}]: empty key"));
                }
                Ok(Key {
                    mac: KeyedMac::new(&raw),
                    raw,
                    not_after: k.not_after(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(KeyRing)
    }

    pub fn active(&self, now: OffsetDateTime) -> impl Iterator<Item = &Key> {
        self.0.iter().filter(move |k| k.is_active(now))
    }

    pub fn primary(&self, now: OffsetDateTime) -> Option<&Key> {
        self.active(now).next()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_strings_or_objects() {
        let keys: Vec<KeyConfig> = serde_json::from_str(
            r#"["a", {"secret": "b", "not_after": "2026-01-01T00:00:00Z"}, {"secret": "c"}]"#,
        )
        .unwrap();
        assert_eq!(keys[0].secret(), "a");
        assert_eq!(keys[1].not_after().unwrap().unix_timestamp(), 1_767_225_600);
        assert!(keys[2].not_after().is_none());
    }

    #[test]
    fn expired_keys_are_not_active() {
        let keys: Vec<KeyConfig> = serde_json::from_str(
            r#"[{"secret": "old", "not_after": "2026-01-01T00:00:00Z"}, "new"]"#,
        )
        .unwrap();
        let ring = KeyRing::compile(&keys, KeyEncoding::Utf8).unwrap();
        let before = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let after = OffsetDateTime::from_unix_timestamp(1_767_225_601).unwrap();
        assert_eq!(ring.active(before).count(), 2);
        assert_eq!(ring.active(after).count(), 1);
        assert_eq!(ring.primary(after).unwrap().raw, b"new");
    }

    #[test]
    fn whsec_keys_are_base64_decoded() {
        assert_eq!(KeyEncoding::Whsec.decode("whsec_YWJj").unwrap(), b"abc");
        assert_eq!(KeyEncoding::Whsec.decode("YWJj").unwrap(), b"abc");
        assert!(KeyEncoding::Whsec.decode("whsec_!!").is_err());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let k = KeyConfig::Plain("hunter2".into());
        assert!(!format!("{k:?}").contains("hunter2"));
        let ring = KeyRing::compile(&[k], KeyEncoding::Utf8).unwrap();
        assert!(!format!("{ring:?}").contains("hunter2"));
    }
}
