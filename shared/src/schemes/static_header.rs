//! Static credentials: a shared token in a header (`token`) or HTTP Basic
//! authentication (`basic`). No HMAC, but compared the same careful way:
//! both sides are hashed first so neither the content nor the length of the
//! expected value leaks through timing.

use super::keys::{KeyEncoding, KeyRing};
use super::mac::{KeyedMac, Tag, base64_encode, decode_base64_lenient, tags_match, trim_ascii};
use super::{
    ConfigError, HeaderLookup, SchemeName, SignError, SignatureConfig, Signed, Verified,
    VerifyError, is_header_text,
};
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct StaticHeader {
    basic: bool,
    header: String,
    header_lower: String,
    keys: KeyRing,
    /// A per-process key for hashing both sides before comparing.
    blinding: KeyedMac,
}

impl StaticHeader {
    pub fn compile(cfg: &SignatureConfig) -> Result<Self, ConfigError> {
        let basic = cfg.scheme == SchemeName::Basic;
        let header = cfg.header.clone().unwrap_or_else(|| "Authorization".into());
        http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| ConfigError::Invalid {
            param: "header",
            reason: format!("{header:?} is not a valid header name"),
        })?;
        let keys =
            KeyRing::compile(&cfg.keys, KeyEncoding::Utf8).map_err(ConfigError::InvalidKey)?;
        for k in &keys.0 {
            if basic && !k.raw.contains(&b':') {
                return Err(ConfigError::InvalidKey(
                    "basic keys are written user:password".into(),
                ));
            }
            // Sent as a header value, which HTTP trims and receivers read as
            // text only when it is printable ASCII.
            let readable = std::str::from_utf8(&k.raw).is_ok_and(|t| is_header_text(trim_ascii(t)));
            if !basic && !readable {
                return Err(ConfigError::InvalidKey(
                    "a token is sent as a header value: printable ASCII".into(),
                ));
            }
        }
        let blinding = KeyedMac::new(uuid::Uuid::new_v4().as_bytes());
        Ok(Self {
            basic,
            header_lower: header.to_ascii_lowercase(),
            header,
            keys,
            blinding,
        })
    }

    pub fn header_lower(&self) -> String {
        self.header_lower.clone()
    }

    pub fn sign(&self, at: OffsetDateTime) -> Result<Signed, SignError> {
        let key = self.keys.primary(at).ok_or(SignError::NoActiveKey)?;
        let value = if self.basic {
            format!("Basic {}", base64_encode(&key.raw))
        } else {
            String::from_utf8_lossy(&key.raw).into_owned()
        };
        Ok(Signed {
            headers: vec![(self.header.clone(), value)],
            body: None,
        })
    }

    fn blind(&self, bytes: &[u8]) -> Tag {
        self.blinding.tag(&[bytes])
    }

    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        now: OffsetDateTime,
    ) -> Result<Verified, VerifyError> {
        let value = headers
            .header(&self.header_lower)
            .map(trim_ascii)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| VerifyError::MissingConfiguredHeader(self.header.clone()))?;
        let provided = if self.basic {
            let (scheme, creds) = value.split_once(' ').ok_or(VerifyError::Malformed)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(VerifyError::Malformed);
            }
            decode_base64_lenient(creds.trim()).ok_or(VerifyError::Malformed)?
        } else {
            value.as_bytes().to_vec()
        };
        let provided = self.blind(&provided);
        let mut any = false;
        for (key_index, key) in self.keys.0.iter().enumerate() {
            if !key.is_active(now) {
                continue;
            }
            any = true;
            // A token arrives as a header value, which HTTP trims; basic
            // credentials arrive base64-encoded, exactly as configured.
            let expected = if self.basic {
                self.blind(&key.raw)
            } else {
                self.blind(trim_ascii(&String::from_utf8_lossy(&key.raw)).as_bytes())
            };
            if tags_match(&expected, &provided) {
                return Ok(Verified {
                    key_index,
                    client_id: None,
                });
            }
        }
        Err(if any {
            VerifyError::Mismatch
        } else {
            VerifyError::NoActiveKey
        })
    }
}
