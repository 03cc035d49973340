//! Schemes that put `prefix + encode(HMAC(key, content))` in one header:
//! LeafLink, Leaf Trade, Smarter Launch, GitHub, Shopify, LeadDone and the
//! generic `hmac` scheme are all presets of [`HeaderHmac`].

use super::keys::{KeyEncoding, KeyRing};
use super::mac::{Encoding, tags_match, trim_ascii};
use super::{
    ConfigError, HeaderLookup, SchemeName, SignError, SignInput, SignatureConfig, Signed, Verified,
    VerifyError, is_header_text, within_tolerance,
};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

/// What the signed content is made of, e.g. `{timestamp}.{body}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Id,
    Timestamp,
    Body,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Literal(rest.as_bytes()[..open].to_vec()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in template {text:?}"))?;
            pieces.push(match &rest[open + 1..open + close] {
                "id" => Piece::Id,
                "timestamp" => Piece::Timestamp,
                "body" => Piece::Body,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} (use {{id}}, {{timestamp}}, {{body}})"
                    ));
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.as_bytes().to_vec()));
        }
        if !pieces.contains(&Piece::Body) {
            return Err("template must contain {body}: a signature that does not cover the body protects nothing".into());
        }
        Ok(Self(pieces))
    }

    fn uses(&self, p: &Piece) -> bool {
        self.0.contains(p)
    }

    /// The signed content as a list of slices (no concatenation).
    fn parts<'a>(&'a self, id: &'a str, ts: &'a str, body: &'a [u8]) -> Vec<&'a [u8]> {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.as_slice(),
                Piece::Id => id.as_bytes(),
                Piece::Timestamp => ts.as_bytes(),
                Piece::Body => body,
            })
            .collect()
    }
}

/// The header format of one header-HMAC scheme (keys are held apart, so
/// LeadDone can pick them per client).
#[derive(Debug, Clone)]
pub struct HeaderHmac {
    header: String,
    header_lower: String,
    encoding: Encoding,
    prefix: String,
    timestamp_header: Option<(String, String)>,
    id_header: Option<(String, String)>,
    template: Option<Template>,
    tolerance: Duration,
}

/// A header name and its lower-case form; `param` is the field that named
/// it, for the error.
fn header_pair(param: &'static str, name: &str) -> Result<(String, String), ConfigError> {
    http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConfigError::Invalid {
        param,
        reason: format!("{name:?} is not a valid header name"),
    })?;
    Ok((name.to_string(), name.to_ascii_lowercase()))
}

impl HeaderHmac {
    pub fn compile(cfg: &SignatureConfig, tolerance: Duration) -> Result<Self, ConfigError> {
        let spec = cfg.scheme.spec();
        let header = cfg
            .header
            .as_deref()
            .or(spec.default_header)
            .unwrap_or("X-Signature");
        let (header, header_lower) = header_pair("header", header)?;
        let prefix = match cfg.scheme {
            SchemeName::Github => "sha256=".to_string(),
            _ => cfg.prefix.clone().unwrap_or_default(),
        };
        // The prefix starts a header value: HTTP trims it, receivers read it
        // as text only when it is printable ASCII.
        if !prefix.is_empty() && !is_header_text(prefix.trim_end_matches([' ', '\t'])) {
            return Err(ConfigError::Invalid {
                param: "prefix",
                reason: "it starts a header value: printable ASCII, not beginning with a space"
                    .into(),
            });
        }
        let timestamp_header = cfg
            .timestamp_header
            .as_deref()
            .map(|h| header_pair("timestamp_header", h))
            .transpose()?;
        let id_header = cfg
            .id_header
            .as_deref()
            .map(|h| header_pair("id_header", h))
            .transpose()?;
        let template = match (&cfg.template, &timestamp_header) {
            (Some(t), _) => Some(Template::parse(t).map_err(|reason| ConfigError::Invalid {
                param: "template",
                reason,
            })?),
            (None, Some(_)) => {
                Some(Template::parse("{timestamp}.{body}").expect("valid built-in template"))
            }
            (None, None) => None,
        };
        if let Some(t) = &template {
            if t.uses(&Piece::Timestamp) && timestamp_header.is_none() {
                return Err(ConfigError::Needs {
                    param: "template",
                    because: "uses {timestamp}",
                    missing: "timestamp_header",
                });
            }
            if t.uses(&Piece::Id) && id_header.is_none() {
                return Err(ConfigError::Needs {
                    param: "template",
                    because: "uses {id}",
                    missing: "id_header",
                });
            }
            // The freshness check reads the timestamp header: unsigned, anyone
            // replaying a captured request can set it to now, so it would
            // look like replay protection while giving none.
            if timestamp_header.is_some() && !t.uses(&Piece::Timestamp) {
                return Err(ConfigError::Invalid {
                    param: "template",
                    reason: "does not contain {timestamp} although a timestamp_header is set: \
                             an unsigned timestamp gives no replay protection (add {timestamp} \
                             to the template, or drop timestamp_header)"
                        .into(),
                });
            }
        }
        Ok(Self {
            header,
            header_lower,
            encoding: cfg
                .encoding
                .or(spec.default_encoding)
                .unwrap_or(Encoding::Hex),
            prefix,
            timestamp_header,
            id_header,
            template,
            tolerance,
        })
    }

    pub fn header_lower(&self) -> String {
        self.header_lower.clone()
    }

    /// Lower-case names of every header [`HeaderHmac::sign`] writes.
    pub fn written_headers(&self) -> Vec<String> {
        let mut names = vec![self.header_lower.clone()];
        names.extend(self.id_header.iter().map(|(_, lower)| lower.clone()));
        names.extend(self.timestamp_header.iter().map(|(_, lower)| lower.clone()));
        names
    }

    /// Lower-case names of the headers whose values the template signs.
    pub fn signed_headers(&self) -> Vec<&str> {
        let Some(template) = &self.template else {
            return vec![];
        };
        let mut names = Vec::new();
        if let Some((_, lower)) = &self.id_header
            && template.uses(&Piece::Id)
        {
            names.push(lower.as_str());
        }
        if let Some((_, lower)) = &self.timestamp_header
            && template.uses(&Piece::Timestamp)
        {
            names.push(lower.as_str());
        }
        names
    }

    /// The header that carries the signed id, if the template has one.
    pub fn id_header_lower(&self) -> Option<&str> {
        self.id_header.as_ref().map(|(_, lower)| lower.as_str())
    }

    pub fn sign(&self, keys: &KeyRing, input: &SignInput<'_>) -> Result<Signed, SignError> {
        let key = keys.primary(input.at).ok_or(SignError::NoActiveKey)?;
        let ts = input.at.unix_timestamp().to_string();
        let tag = match &self.template {
            Some(t) => key.mac.tag(&t.parts(input.id, &ts, input.body)),
            None => key.mac.tag(&[input.body]),
        };
        let mut headers = Vec::with_capacity(3);
        if let Some((name, _)) = &self.id_header {
            headers.push((name.clone(), input.id.to_string()));
        }
        if let Some((name, _)) = &self.timestamp_header {
            headers.push((name.clone(), ts));
        }
        headers.push((
            self.header.clone(),
            format!("{}{}", self.prefix, self.encoding.encode(&tag)),
        ));
        Ok(Signed {
            headers,
            body: None,
        })
    }

    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        keys: &KeyRing,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Verified, VerifyError> {
        let value = headers
            .header(&self.header_lower)
            .map(trim_ascii)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| VerifyError::MissingConfiguredHeader(self.header.clone()))?;
        let encoded = value
            .strip_prefix(self.prefix.as_str())
            .ok_or(VerifyError::Malformed)?;
        let provided = self
            .encoding
            .decode_tag(encoded)
            .ok_or(VerifyError::Malformed)?;

        let ts = match &self.timestamp_header {
            Some((name, lower)) => {
                let raw = headers
                    .header(lower)
                    .map(trim_ascii)
                    .ok_or_else(|| VerifyError::MissingConfiguredHeader(name.clone()))?;
                let ts: i64 = raw.parse().map_err(|_| VerifyError::Malformed)?;
                if !within_tolerance(ts, now, self.tolerance) {
                    return Err(VerifyError::TimestampOutOfTolerance);
                }
                raw
            }
            None => "",
        };
        let id = match &self.id_header {
            Some((name, lower)) => headers
                .header(lower)
                .map(trim_ascii)
                .ok_or_else(|| VerifyError::MissingConfiguredHeader(name.clone()))?,
            None => "",
        };
        let templated;
        let parts: &[&[u8]] = match &self.template {
            Some(t) => {
                templated = t.parts(id, ts, body);
                &templated
            }
            None => std::slice::from_ref(&body),
        };
        let mut any = false;
        for (key_index, key) in keys.0.iter().enumerate() {
            if !key.is_active(now) {
                continue;
            }
            any = true;
            if tags_match(&key.mac.tag(parts), &provided) {
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

pub const LEADDONE_CLIENT_HEADER: &str = "X-Webhook-ClientId";

/// LeadDone: `X-Webhook-ClientId` selects whose secret verifies
/// `X-Webhook-Signature`.
#[derive(Debug, Clone)]
pub struct LeadDone {
    format: HeaderHmac,
    /// Signing identity (sender side).
    client_id: Option<String>,
    signing_keys: KeyRing,
    /// Verification side: every client we accept.
    clients: HashMap<String, KeyRing>,
}

impl LeadDone {
    pub fn compile(cfg: &SignatureConfig) -> Result<Self, ConfigError> {
        let format = HeaderHmac::compile(cfg, super::DEFAULT_TOLERANCE)?;
        // Client ids travel in X-Webhook-ClientId.
        let ids = cfg.client_id.iter().chain(cfg.clients.keys());
        if ids.into_iter().any(|id| !is_header_text(id)) {
            return Err(ConfigError::Invalid {
                param: "client_id",
                reason: "a client id is sent as a header value: printable ASCII without \
                         surrounding spaces"
                    .into(),
            });
        }
        let mut clients = HashMap::new();
        for (id, keys) in &cfg.clients {
            if keys.is_empty() {
                return Err(ConfigError::InvalidKey(format!(
                    "client {id:?} has no keys"
                )));
            }
            let ring = KeyRing::compile(keys, KeyEncoding::Utf8)
                .map_err(|e| ConfigError::InvalidKey(format!("client {id:?}: {e}")))?;
            clients.insert(id.clone(), ring);
        }
        let signing_keys =
            KeyRing::compile(&cfg.keys, KeyEncoding::Utf8).map_err(ConfigError::InvalidKey)?;
        // `client_id` + `keys` also count as one accepted client.
        if let Some(id) = &cfg.client_id
            && !signing_keys.is_empty()
        {
            clients
                .entry(id.clone())
                .or_insert_with(|| signing_keys.clone());
        }
        if clients.is_empty() {
            // Keys without the client they belong to are not "no keys".
            return Err(if signing_keys.is_empty() {
                ConfigError::NoKeys(SchemeName::Leaddone)
            } else {
                ConfigError::NoClient
            });
        }
        // With exactly one client configured, it is also who we sign as.
        let (client_id, signing_keys) = match (&cfg.client_id, signing_keys.is_empty()) {
            (Some(id), false) => (Some(id.clone()), signing_keys),
            (Some(id), true) => (
                Some(id.clone()),
                clients.get(id).cloned().unwrap_or_default(),
            ),
            (None, _) if clients.len() == 1 => {
                let (id, ring) = clients.iter().next().expect("one client");
                (Some(id.clone()), ring.clone())
            }
            (None, _) => (None, KeyRing::default()),
        };
        Ok(Self {
            format,
            client_id,
            signing_keys,
            clients,
        })
    }

    /// Lower-case names of the signature headers (the client id header apart).
    pub fn read_headers(&self) -> Vec<String> {
        self.format.written_headers()
    }

    pub fn sign(&self, input: &SignInput<'_>) -> Result<Signed, SignError> {
        let client_id = self.client_id.as_ref().ok_or(SignError::NoClientId)?;
        let mut signed = self.format.sign(&self.signing_keys, input)?;
        signed
            .headers
            .insert(0, (LEADDONE_CLIENT_HEADER.to_string(), client_id.clone()));
        Ok(signed)
    }

    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Verified, VerifyError> {
        let client = headers
            .header("x-webhook-clientid")
            .map(trim_ascii)
            .filter(|c| !c.is_empty())
            .ok_or(VerifyError::MissingHeader(LEADDONE_CLIENT_HEADER))?;
        let keys = self.clients.get(client).ok_or(VerifyError::UnknownClient)?;
        let mut verified = self.format.verify(keys, headers, body, now)?;
        verified.client_id = Some(client.to_string());
        Ok(verified)
    }
}
