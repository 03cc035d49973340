//! Signature schemes: one table for both directions.
//!
//! A [`SignatureConfig`] is what users write (in a source's or an endpoint's
//! secret, or as CLI flags). [`Scheme::compile`] validates it once and turns
//! it into a [`Scheme`] that can [`Scheme::sign`] (sender, CLI) and
//! [`Scheme::verify`] (receiver, CLI) over the exact raw bytes of a request.
//!
//! Every scheme is HMAC-SHA256 (or a static credential) written somewhere
//! different; the families live in their own modules:
//! `header_hmac` (LeafLink, Leaf Trade, LeadDone, Smarter Launch, GitHub,
//! Shopify, generic `hmac`), `standard_webhooks`, `stripe`, `leanbe`
//! (signature inside the body) and `static_header` (`token`, `basic`).

mod header_hmac;
pub mod keys;
mod leanbe;
pub mod mac;
mod standard_webhooks;
mod static_header;
mod stripe;

use keys::{KeyConfig, KeyEncoding, KeyRing};
use mac::Encoding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

pub use header_hmac::{LEADDONE_CLIENT_HEADER, Template};

/// Default window for timestamped schemes, as Stripe and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The scheme names users type. Fixed: they appear in configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeName {
    Leaflink,
    Leaftrade,
    Leaddone,
    Smarterlaunch,
    Leanbe,
    StandardWebhooks,
    Stripe,
    Github,
    Shopify,
    Hmac,
    Token,
    Basic,
}

/// Configuration parameters a scheme may take besides its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Header,
    Encoding,
    Prefix,
    TimestampHeader,
    IdHeader,
    Template,
    KeyEncoding,
    Tolerance,
    ClientId,
    Clients,
}

impl Param {
    pub fn field(self) -> &'static str {
        match self {
            Param::Header => "header",
            Param::Encoding => "encoding",
            Param::Prefix => "prefix",
            Param::TimestampHeader => "timestamp_header",
            Param::IdHeader => "id_header",
            Param::Template => "template",
            Param::KeyEncoding => "key_encoding",
            Param::Tolerance => "tolerance_secs",
            Param::ClientId => "client_id",
            Param::Clients => "clients",
        }
    }
}

/// Where a receiver finds an event's type or delivery id by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    Header(&'static str),
    JsonPointer(&'static str),
}

/// One row of the scheme table.
#[derive(Debug)]
pub struct SchemeSpec {
    pub name: SchemeName,
    /// Where the signature goes and what it covers, in one line.
    pub summary: &'static str,
    /// What the platform's documentation fixes, and what hookrelay chose where
    /// it is silent. Shown by `hookrelay schemes` and in the README.
    pub provenance: &'static str,
    pub params: &'static [Param],
    pub default_header: Option<&'static str>,
    pub default_encoding: Option<Encoding>,
    pub delivery_id: Option<Convention>,
    pub event_type: Option<Convention>,
}

use Param as P;

/// The table. Order is the order of `hookrelay schemes`.
pub static SCHEMES: &[SchemeSpec] = &[
    SchemeSpec {
        name: SchemeName::Leaflink,
        summary: "LL-Signature: base64(HMAC-SHA256(key, raw body))",
        provenance: "all fixed by LeafLink's docs",
        params: &[],
        default_header: Some("LL-Signature"),
        default_encoding: Some(Encoding::Base64),
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Leaftrade,
        summary: "<header>: <hex|base64>(HMAC-SHA256(key, raw body))",
        provenance: "HMAC-SHA256 over the payload is Leaf Trade's; the header name (default \
                     X-Leaftrade-Signature) and encoding (default hex) are not in its docs: \
                     they are hookrelay's defaults, set `header`/`encoding` to what you see. \
                     Leaf Trade without an HMAC key authenticates with custom headers: use `token`.",
        params: &[P::Header, P::Encoding],
        default_header: Some("X-Leaftrade-Signature"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Leaddone,
        summary: "X-Webhook-ClientId names the client; X-Webhook-Signature: hex(HMAC-SHA256(client's key, raw body))",
        provenance: "all fixed by LeadDone's docs; verify with `clients` {id: [keys]}, sign with `client_id` + `keys`",
        params: &[P::ClientId, P::Clients],
        default_header: Some("X-Webhook-Signature"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Smarterlaunch,
        summary: "<header>: hex(HMAC-SHA256(key, JSON body))",
        provenance: "HMAC-SHA256 and hex are Smarter Launch's; the header name is not in its docs: \
                     hookrelay's default is X-Smarterlaunch-Signature, set `header` to what you see",
        params: &[P::Header],
        default_header: Some("X-Smarterlaunch-Signature"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Leanbe,
        summary: "body {payload, event, triggeredAt, signature: hex(HMAC-SHA256(key, JSON.stringify(payload)))}",
        provenance: "all fixed by Leanbe's docs; the payload's raw bytes are tried first, then a \
                     JSON.stringify-compatible re-serialization",
        params: &[],
        default_header: None,
        default_encoding: Some(Encoding::Hex),
        delivery_id: None,
        event_type: Some(Convention::JsonPointer("/event")),
    },
    SchemeSpec {
        name: SchemeName::StandardWebhooks,
        summary: "webhook-id, webhook-timestamp, webhook-signature: v1,base64(HMAC(whsec key, id.timestamp.body)) (space-separated, one per key)",
        provenance: "fixed by the Standard Webhooks spec; svix-* headers are accepted too",
        params: &[P::Tolerance],
        default_header: Some("webhook-signature"),
        default_encoding: Some(Encoding::Base64),
        delivery_id: Some(Convention::Header("webhook-id")),
        event_type: Some(Convention::JsonPointer("/type")),
    },
    SchemeSpec {
        name: SchemeName::Stripe,
        summary: "Stripe-Signature: t=<unix>,v1=hex(HMAC(key, t.body)) (one v1 per key)",
        provenance: "fixed by Stripe's docs (the whole whsec_ string is the HMAC key)",
        params: &[P::Tolerance],
        default_header: Some("Stripe-Signature"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: Some(Convention::JsonPointer("/id")),
        event_type: Some(Convention::JsonPointer("/type")),
    },
    SchemeSpec {
        name: SchemeName::Github,
        summary: "X-Hub-Signature-256: sha256=hex(HMAC-SHA256(key, raw body))",
        provenance: "fixed by GitHub's docs",
        params: &[],
        default_header: Some("X-Hub-Signature-256"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: Some(Convention::Header("x-github-delivery")),
        event_type: Some(Convention::Header("x-github-event")),
    },
    SchemeSpec {
        name: SchemeName::Shopify,
        summary: "X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(key, raw body))",
        provenance: "fixed by Shopify's docs",
        params: &[],
        default_header: Some("X-Shopify-Hmac-Sha256"),
        default_encoding: Some(Encoding::Base64),
        delivery_id: Some(Convention::Header("x-shopify-webhook-id")),
        event_type: Some(Convention::Header("x-shopify-topic")),
    },
    SchemeSpec {
        name: SchemeName::Hmac,
        summary: "<header>: <prefix><hex|base64>(HMAC-SHA256(key, <template>)), template of {id} {timestamp} {body}",
        provenance: "generic; defaults: header X-Signature, hex, no prefix, template {body} \
                     ({timestamp}.{body} with a timestamp_header), key as UTF-8",
        params: &[
            P::Header,
            P::Encoding,
            P::Prefix,
            P::TimestampHeader,
            P::IdHeader,
            P::Template,
            P::KeyEncoding,
            P::Tolerance,
        ],
        default_header: Some("X-Signature"),
        default_encoding: Some(Encoding::Hex),
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Token,
        summary: "<header>: <key> (a static shared token, e.g. Authorization: Bearer ...)",
        provenance: "generic; default header Authorization",
        params: &[P::Header],
        default_header: Some("Authorization"),
        default_encoding: None,
        delivery_id: None,
        event_type: None,
    },
    SchemeSpec {
        name: SchemeName::Basic,
        summary: "Authorization: Basic base64(<key as user:password>)",
        provenance: "RFC 7617",
        params: &[],
        default_header: Some("Authorization"),
        default_encoding: None,
        delivery_id: None,
        event_type: None,
    },
];

impl SchemeName {
    pub fn spec(self) -> &'static SchemeSpec {
        SCHEMES
            .iter()
            .find(|s| s.name == self)
            .expect("every scheme name has a row in SCHEMES")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SchemeName::Leaflink => "leaflink",
            SchemeName::Leaftrade => "leaftrade",
            SchemeName::Leaddone => "leaddone",
            SchemeName::Smarterlaunch => "smarterlaunch",
            SchemeName::Leanbe => "leanbe",
            SchemeName::StandardWebhooks => "standard-webhooks",
            SchemeName::Stripe => "stripe",
            SchemeName::Github => "github",
            SchemeName::Shopify => "shopify",
            SchemeName::Hmac => "hmac",
            SchemeName::Token => "token",
            SchemeName::Basic => "basic",
        }
    }

    /// True for schemes that need the body to be JSON.
    pub fn needs_json(self) -> bool {
        matches!(self, SchemeName::Leanbe)
    }
}

impl std::fmt::Display for SchemeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SchemeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SCHEMES
            .iter()
            .map(|r| r.name)
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = SCHEMES.iter().map(|r| r.name.as_str()).collect();
                format!("unknown scheme {s:?}; known: {}", names.join(", "))
            })
    }
}

/// A signature configuration, as written in a source's or endpoint's secret.
/// Only `scheme` and the keys are always present; the rest are parameters
/// that some schemes take (see [`SchemeSpec::params`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    /// Defaults to `standard-webhooks`, the format hookrelay sends by default.
    #[serde(default = "default_scheme")]
    pub scheme: SchemeName,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_encoding: Option<KeyEncoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, Vec<KeyConfig>>,
}

fn default_scheme() -> SchemeName {
    SchemeName::StandardWebhooks
}

impl SignatureConfig {
    /// A configuration with only a scheme and keys.
    pub fn new(scheme: SchemeName, keys: Vec<KeyConfig>) -> Self {
        Self {
            scheme,
            keys,
            header: None,
            encoding: None,
            prefix: None,
            timestamp_header: None,
            id_header: None,
            template: None,
            key_encoding: None,
            tolerance_secs: None,
            client_id: None,
            clients: BTreeMap::new(),
        }
    }

    fn params_set(&self) -> Vec<Param> {
        let mut set = Vec::new();
        let mut add = |cond: bool, p| {
            if cond {
                set.push(p)
            }
        };
        add(self.header.is_some(), P::Header);
        add(self.encoding.is_some(), P::Encoding);
        add(self.prefix.is_some(), P::Prefix);
        add(self.timestamp_header.is_some(), P::TimestampHeader);
        add(self.id_header.is_some(), P::IdHeader);
        add(self.template.is_some(), P::Template);
        add(self.key_encoding.is_some(), P::KeyEncoding);
        add(self.tolerance_secs.is_some(), P::Tolerance);
        add(self.client_id.is_some(), P::ClientId);
        add(!self.clients.is_empty(), P::Clients);
        set
    }

    /// Every key string in the configuration, for redaction and rotation.
    pub fn all_keys_mut(&mut self) -> impl Iterator<Item = &mut Vec<KeyConfig>> {
        std::iter::once(&mut self.keys).chain(self.clients.values_mut())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("parameter `{param}` does not apply to scheme `{scheme}`")]
    ParamNotApplicable {
        scheme: SchemeName,
        param: &'static str,
    },
    #[error("scheme `{0}` needs at least one key")]
    NoKeys(SchemeName),
    /// LeadDone keys belong to a client: `keys` without `client_id`.
    #[error(
        "scheme `leaddone` has keys but not the client they belong to: add `client_id`, or use `clients` {{\"<id>\": [keys]}}"
    )]
    NoClient,
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid {param}: {reason}")]
    Invalid { param: &'static str, reason: String },
    /// `param` needs `missing`, which is not set.
    #[error("{param} {because} but no {missing} is set")]
    Needs {
        param: &'static str,
        because: &'static str,
        missing: &'static str,
    },
}

/// What a signer needs to know about the message besides the body.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// Delivery id (Standard Webhooks `webhook-id`, generic `{id}`).
    pub id: &'a str,
    /// When the message is signed: timestamps and key validity.
    pub at: OffsetDateTime,
    pub body: &'a [u8],
    /// Event type (Leanbe puts it in the body).
    pub event_type: Option<&'a str>,
}

/// What a signer produced: headers to attach and, for schemes that sign
/// inside the body (Leanbe), the body to send instead of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Signed {
    /// The bytes to send: what was signed.
    pub fn body_or<'a>(&'a self, input: &'a [u8]) -> &'a [u8] {
        self.body.as_deref().unwrap_or(input)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("no active key")]
    NoActiveKey,
    #[error("the payload must be JSON for this scheme: {0}")]
    PayloadNotJson(String),
    #[error("this scheme needs a client id")]
    NoClientId,
    #[error(
        "the delivery id goes in a header and must be printable ASCII without surrounding spaces"
    )]
    InvalidId,
}

/// Why a request did not verify. Detailed for logs; the receiver answers
/// every variant but `InvalidJson` with the same opaque 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} is missing")]
    MissingConfiguredHeader(String),
    #[error("body member {0} is missing")]
    MissingField(&'static str),
    #[error("signature is malformed")]
    Malformed,
    #[error("signature does not match any active key")]
    Mismatch,
    #[error("timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
    #[error("unknown client id")]
    UnknownClient,
    #[error("body is not the JSON this scheme needs: {0}")]
    InvalidJson(String),
    #[error("no active key")]
    NoActiveKey,
    /// A header the scheme reads arrived more than once with different
    /// values. Which one would count is a guess (the first, here; API
    /// Gateway joins them with commas, which then does not decode), so
    /// neither does.
    #[error("header {0} is repeated with different values")]
    RepeatedHeader(String),
    /// The signature matches a re-serialization of the payload, but the
    /// bytes that would be queued say more than it does (Leanbe).
    #[error("the signature does not pin the body down: {0}")]
    NotPinned(crate::js_stringify::Ambiguity),
}

/// Which key verified a request: useful in logs during a rotation, and says
/// nothing about the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_index: usize,
    pub client_id: Option<String>,
}

/// Case-insensitive header lookup over whatever a caller has.
pub trait HeaderLookup {
    /// `name` is given in lower case. The first value when the header is
    /// repeated (see [`HeaderLookup::repeated_differently`]).
    fn header(&self, name: &str) -> Option<&str>;

    /// True when the header arrived more than once with values that are not
    /// all the same. `name` is given in lower case.
    fn repeated_differently(&self, name: &str) -> bool;
}

/// True when the values are not all equal.
fn differ<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> bool {
    match values.next() {
        Some(first) => values.any(|v| v != first),
        None => false,
    }
}

impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }

    fn repeated_differently(&self, name: &str) -> bool {
        differ(self.get_all(name).iter().map(|v| v.as_bytes()))
    }
}

impl HeaderLookup for [(String, String)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn repeated_differently(&self, name: &str) -> bool {
        differ(
            self.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes()),
        )
    }
}

impl HeaderLookup for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }

    fn repeated_differently(&self, name: &str) -> bool {
        self.as_slice().repeated_differently(name)
    }
}

impl HeaderLookup for BTreeMap<String, String> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn repeated_differently(&self, name: &str) -> bool {
        differ(
            self.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes()),
        )
    }
}

/// A compiled scheme: validated parameters and keyed HMAC states.
#[derive(Debug, Clone)]
pub struct Scheme {
    name: SchemeName,
    kind: Kind,
    /// Lower-case names of the headers [`Scheme::verify`] reads.
    read_headers: Box<[String]>,
}

#[derive(Debug, Clone)]
enum Kind {
    Header {
        format: header_hmac::HeaderHmac,
        keys: KeyRing,
    },
    LeadDone(header_hmac::LeadDone),
    Leanbe(KeyRing),
    StandardWebhooks {
        keys: KeyRing,
        tolerance: Duration,
    },
    Stripe {
        keys: KeyRing,
        tolerance: Duration,
    },
    Static(static_header::StaticHeader),
}

impl Scheme {
    pub fn compile(cfg: &SignatureConfig) -> Result<Self, ConfigError> {
        let spec = cfg.scheme.spec();
        if let Some(p) = cfg
            .params_set()
            .into_iter()
            .find(|p| !spec.params.contains(p))
        {
            return Err(ConfigError::ParamNotApplicable {
                scheme: cfg.scheme,
                param: p.field(),
            });
        }
        let tolerance = cfg
            .tolerance_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOLERANCE);
        let ring = |enc: KeyEncoding| -> Result<KeyRing, ConfigError> {
            if cfg.keys.is_empty() {
                return Err(ConfigError::NoKeys(cfg.scheme));
            }
            KeyRing::compile(&cfg.keys, enc).map_err(ConfigError::InvalidKey)
        };
        let key_encoding = cfg.key_encoding.unwrap_or_default();
        let kind = match cfg.scheme {
            SchemeName::Leaddone => Kind::LeadDone(header_hmac::LeadDone::compile(cfg)?),
            SchemeName::Leanbe => Kind::Leanbe(ring(KeyEncoding::Utf8)?),
            SchemeName::StandardWebhooks => Kind::StandardWebhooks {
                keys: ring(KeyEncoding::Whsec)?,
                tolerance,
            },
            SchemeName::Stripe => Kind::Stripe {
                keys: ring(KeyEncoding::Utf8)?,
                tolerance,
            },
            SchemeName::Token | SchemeName::Basic => {
                if cfg.keys.is_empty() {
                    return Err(ConfigError::NoKeys(cfg.scheme));
                }
                Kind::Static(static_header::StaticHeader::compile(cfg)?)
            }
            SchemeName::Leaflink
            | SchemeName::Leaftrade
            | SchemeName::Smarterlaunch
            | SchemeName::Github
            | SchemeName::Shopify
            | SchemeName::Hmac => Kind::Header {
                format: header_hmac::HeaderHmac::compile(cfg, tolerance)?,
                keys: ring(key_encoding)?,
            },
        };
        let read_headers = read_headers(&kind).into_boxed_slice();
        Ok(Self {
            name: cfg.scheme,
            kind,
            read_headers,
        })
    }

    pub fn name(&self) -> SchemeName {
        self.name
    }

    /// Signs `input.body` (or, for Leanbe, builds and signs the body).
    pub fn sign(&self, input: &SignInput<'_>) -> Result<Signed, SignError> {
        // A header value the other side cannot read as text (http's
        // `to_str`, ours included, refuses anything but printable ASCII)
        // or that HTTP trims would give a request nobody can verify.
        if self.id_header().is_some() && !is_header_text(input.id) {
            return Err(SignError::InvalidId);
        }
        match &self.kind {
            Kind::Header { format, keys } => format.sign(keys, input),
            Kind::LeadDone(ld) => ld.sign(input),
            Kind::Leanbe(keys) => leanbe::sign(keys, input),
            Kind::StandardWebhooks { keys, .. } => standard_webhooks::sign(keys, input),
            Kind::Stripe { keys, .. } => stripe::sign(keys, input),
            Kind::Static(s) => s.sign(input.at),
        }
    }

    /// Verifies a request against every active key, in constant time per
    /// comparison.
    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Verified, VerifyError> {
        // Before anything is read: with differing copies of a header, which
        // one counts would depend on the transport (the first here, both
        // joined with a comma behind API Gateway).
        if let Some(name) = self
            .read_headers
            .iter()
            .find(|name| headers.repeated_differently(name))
        {
            return Err(VerifyError::RepeatedHeader(name.clone()));
        }
        match &self.kind {
            Kind::Header { format, keys } => format.verify(keys, headers, body, now),
            Kind::LeadDone(ld) => ld.verify(headers, body, now),
            Kind::Leanbe(keys) => leanbe::verify(keys, body, now),
            Kind::StandardWebhooks { keys, tolerance } => {
                standard_webhooks::verify(keys, *tolerance, headers, body, now)
            }
            Kind::Stripe { keys, tolerance } => {
                stripe::verify(keys, *tolerance, headers, body, now)
            }
            Kind::Static(s) => s.verify(headers, now),
        }
    }

    /// Header names this scheme reads or writes: never copied into
    /// envelopes or logs.
    pub fn credential_headers(&self) -> Vec<String> {
        match &self.kind {
            Kind::Header { format, .. } => vec![format.header_lower()],
            Kind::LeadDone(_) => vec!["x-webhook-signature".into()],
            Kind::Leanbe(_) => vec![],
            Kind::StandardWebhooks { .. } => {
                vec!["webhook-signature".into(), "svix-signature".into()]
            }
            Kind::Stripe { .. } => vec!["stripe-signature".into()],
            Kind::Static(s) => vec![s.header_lower()],
        }
    }

    /// Lower-case names of every header [`Scheme::sign`] writes: an
    /// endpoint's own headers must not repeat them.
    pub fn signing_headers(&self) -> Vec<String> {
        match &self.kind {
            Kind::Header { format, .. } => format.written_headers(),
            Kind::LeadDone(_) => vec![
                "x-webhook-signature".into(),
                header_hmac::LEADDONE_CLIENT_HEADER.to_ascii_lowercase(),
            ],
            Kind::Leanbe(_) => vec![],
            Kind::StandardWebhooks { .. } => vec![
                "webhook-id".into(),
                "webhook-timestamp".into(),
                "webhook-signature".into(),
            ],
            Kind::Stripe { .. } => vec!["stripe-signature".into()],
            Kind::Static(s) => vec![s.header_lower()],
        }
    }

    /// True when the value at this JSON pointer into the body is covered by
    /// the signature: the whole body is signed, or (Leanbe) the pointer is
    /// inside the signed `payload` member.
    pub fn signs_json_pointer(&self, pointer: &str) -> bool {
        match &self.kind {
            // `{body}` is required in every header HMAC template.
            Kind::Header { .. }
            | Kind::LeadDone(_)
            | Kind::StandardWebhooks { .. }
            | Kind::Stripe { .. } => true,
            Kind::Leanbe(_) => pointer == "/payload" || pointer.starts_with("/payload/"),
            Kind::Static(_) => false,
        }
    }

    /// True when the value of this header (lower case) is covered by the
    /// signature: only `hmac`'s `id_header`/`timestamp_header` when its
    /// template signs them. Platforms that name the event in a header
    /// (GitHub, Shopify) do not sign it.
    pub fn signs_header(&self, lower: &str) -> bool {
        match &self.kind {
            Kind::Header { format, .. } => format.signed_headers().contains(&lower),
            _ => false,
        }
    }

    /// The header in which [`Scheme::sign`] writes the signed id (the job
    /// id when the sender signs), if it writes one.
    pub fn id_header(&self) -> Option<&str> {
        match &self.kind {
            Kind::Header { format, .. } => format.id_header_lower(),
            Kind::StandardWebhooks { .. } => Some("webhook-id"),
            _ => None,
        }
    }
}

/// Lower-case names of every header a scheme's verification reads.
fn read_headers(kind: &Kind) -> Vec<String> {
    match kind {
        Kind::Header { format, .. } => format.written_headers(),
        Kind::LeadDone(ld) => {
            let mut names = ld.read_headers();
            names.push(header_hmac::LEADDONE_CLIENT_HEADER.to_ascii_lowercase());
            names
        }
        Kind::Leanbe(_) => vec![],
        Kind::StandardWebhooks { .. } => ["id", "timestamp", "signature"]
            .iter()
            .flat_map(|part| [format!("webhook-{part}"), format!("svix-{part}")])
            .collect(),
        Kind::Stripe { .. } => vec!["stripe-signature".into()],
        Kind::Static(s) => vec![s.header_lower()],
    }
}

/// Non-empty printable ASCII (spaces and tabs inside only): what survives
/// a trip through an HTTP header unchanged and reads back as text.
fn is_header_text(value: &str) -> bool {
    let printable = |b: u8| (0x20..0x7f).contains(&b) || b == b'\t';
    !value.is_empty() && value.trim_matches([' ', '\t']) == value && value.bytes().all(printable)
}

/// Checks a signed timestamp against `now`, in both directions. `ts` is
/// unauthenticated input: `abs_diff` cannot overflow where a subtraction
/// would (a timestamp near `i64::MIN`).
fn within_tolerance(ts: i64, now: OffsetDateTime, tolerance: Duration) -> bool {
    now.unix_timestamp().abs_diff(ts) <= tolerance.as_secs()
}

#[cfg(test)]
mod tests;
