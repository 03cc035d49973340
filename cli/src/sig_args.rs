//! Command-line flags that make a [`SignatureConfig`]: the scheme's
//! parameters ([`SchemeParams`], shared by every command that takes a
//! signature) and, for `sign`, `verify` and `send`, a scheme with its keys
//! ([`SigArgs`]). Only flags the user gave become parameters, so the scheme
//! table's own validation says when one does not apply, and its errors are
//! put in terms of the flags ([`flag_error`]).

use clap::Args;
use hookrelay_shared::schemes::keys::{KeyConfig, KeyEncoding};
use hookrelay_shared::schemes::mac::Encoding;
use hookrelay_shared::schemes::{
    ConfigError, LEADDONE_CLIENT_HEADER, Scheme, SchemeName, SignatureConfig,
};

/// A scheme's parameters as flags (see `hookrelay schemes` for which
/// scheme takes which).
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct SchemeParams {
    /// Header that carries the signature (leaftrade, smarterlaunch, hmac, token).
    #[arg(long = "header-name")]
    pub header_name: Option<String>,
    /// hex or base64 (leaftrade, hmac).
    #[arg(long)]
    pub encoding: Option<Encoding>,
    /// LeadDone client id (X-Webhook-ClientId): whose key this is.
    #[arg(long = "client-id")]
    pub client_id: Option<String>,
    /// Text before the encoded signature, e.g. sha256= (hmac).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Header carrying a unix timestamp that is signed (hmac).
    #[arg(long = "timestamp-header")]
    pub timestamp_header: Option<String>,
    /// Header carrying the delivery id that is signed (hmac).
    #[arg(long = "id-header")]
    pub id_header: Option<String>,
    /// Signed content, with {id} {timestamp} {body} (hmac).
    #[arg(long)]
    pub template: Option<String>,
    /// How the key string becomes bytes: utf8, base64, hex, whsec (hmac).
    #[arg(long = "key-encoding", value_parser = parse_key_encoding)]
    pub key_encoding: Option<KeyEncoding>,
    /// Accepted clock skew for timestamped schemes, in seconds (default 300).
    #[arg(long = "tolerance-secs")]
    pub tolerance_secs: Option<u64>,
}

impl SchemeParams {
    /// Sets the parameters that were given on `cfg`; the others keep their
    /// value (so `update` changes only what it is told to).
    pub fn apply(&self, cfg: &mut SignatureConfig) {
        fn set<T: Clone>(flag: &Option<T>, field: &mut Option<T>) {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        set(&self.header_name, &mut cfg.header);
        set(&self.encoding, &mut cfg.encoding);
        set(&self.client_id, &mut cfg.client_id);
        set(&self.prefix, &mut cfg.prefix);
        set(&self.timestamp_header, &mut cfg.timestamp_header);
        set(&self.id_header, &mut cfg.id_header);
        set(&self.template, &mut cfg.template);
        set(&self.key_encoding, &mut cfg.key_encoding);
        set(&self.tolerance_secs, &mut cfg.tolerance_secs);
    }
}

/// A scheme and its keys, for `sign`, `verify` and `send`.
#[derive(Args, Debug, Clone)]
pub struct SigArgs {
    /// Signature scheme (see `hookrelay schemes`).
    #[arg(long, short = 's')]
    pub scheme: SchemeName,
    /// Key (repeat for several: the first signs, any verifies). For
    /// standard-webhooks a whsec_ secret; for basic, user:password.
    #[arg(long = "key", short = 'k', required = true)]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub params: SchemeParams,
}

pub fn parse_key_encoding(s: &str) -> Result<KeyEncoding, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown key encoding {s:?} (utf8|base64|hex|whsec)"))
}

/// The flag that sets a [`SignatureConfig`] field.
fn flag_of(field: &str) -> String {
    match field {
        "header" => "--header-name".into(),
        "tolerance_secs" => "--tolerance-secs".into(),
        // `clients` has no flag: it is what `--client-id` with `--key` makes.
        "clients" => "a clients map (--client-id with --key)".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A configuration error in terms of the command line: which flag does not
/// apply, or which one is missing.
pub fn flag_error(e: &ConfigError) -> String {
    match e {
        ConfigError::ParamNotApplicable { scheme, param } => {
            format!("{} does not apply to scheme `{scheme}`", flag_of(param))
        }
        ConfigError::NoKeys(scheme) => format!("scheme `{scheme}` needs a key: add --key"),
        ConfigError::NoClient => format!(
            "scheme `leaddone` needs the client the key belongs to: add --client-id ID \
             (verify and send also take it from an -H '{LEADDONE_CLIENT_HEADER}: ID' header)"
        ),
        ConfigError::InvalidKey(reason) => format!("--key: {reason}"),
        ConfigError::Invalid { param, reason } => format!("{}: {reason}", flag_of(param)),
        ConfigError::Needs {
            param,
            because,
            missing,
        } => format!("{} {because}: add {}", flag_of(param), flag_of(missing)),
    }
}

impl SigArgs {
    pub fn config(&self) -> SignatureConfig {
        let keys: Vec<KeyConfig> = self.keys.iter().cloned().map(KeyConfig::Plain).collect();
        let mut cfg = SignatureConfig::new(self.scheme, keys);
        self.params.apply(&mut cfg);
        cfg
    }

    pub fn compile(&self) -> Result<Scheme, String> {
        Scheme::compile(&self.config()).map_err(|e| flag_error(&e))
    }

    /// Like [`compile`](Self::compile), for a request whose headers are
    /// known (`verify`, `send`): a LeadDone key given without `--client-id`
    /// belongs to the client the request's `X-Webhook-ClientId` names.
    pub fn compile_for_request(&self, headers: &[(String, String)]) -> Result<Scheme, String> {
        let mut cfg = self.config();
        if cfg.scheme == SchemeName::Leaddone && cfg.client_id.is_none() {
            cfg.client_id = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(LEADDONE_CLIENT_HEADER))
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty());
        }
        Scheme::compile(&cfg).map_err(|e| flag_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sig: SigArgs,
    }

    fn args(a: &[&str]) -> SigArgs {
        Cli::try_parse_from(std::iter::once("t").chain(a.iter().copied()))
            .unwrap()
            .sig
    }

    #[test]
    fn a_leaddone_key_belongs_to_the_client_the_request_names() {
        let a = args(&["--scheme", "leaddone", "--key", "K"]);
        let e = a.compile().unwrap_err();
        assert!(
            e.contains("--client-id") && e.contains("X-Webhook-ClientId"),
            "{e}"
        );
        assert!(!e.contains("needs a key"), "a key was given: {e}");
        let headers = vec![("x-webhook-clientid".to_string(), " c1 ".to_string())];
        a.compile_for_request(&headers).unwrap();
        // --client-id wins over the header.
        let b = args(&["--scheme", "leaddone", "--key", "K", "--client-id", "c2"]);
        b.compile_for_request(&headers).unwrap();
    }

    #[test]
    fn errors_name_the_flag() {
        let e = args(&["--scheme", "github", "--key", "k", "--header-name", "X"])
            .compile()
            .unwrap_err();
        assert_eq!(e, "--header-name does not apply to scheme `github`");
        let e = args(&["--scheme", "github", "--key", "k", "--tolerance-secs", "3"])
            .compile()
            .unwrap_err();
        assert!(e.starts_with("--tolerance-secs does not apply"), "{e}");
        let e = args(&["--scheme", "hmac", "--key", "k", "--template", "{id}"])
            .compile()
            .unwrap_err();
        assert!(e.starts_with("--template: "), "{e}");
        let e = args(&[
            "--scheme",
            "hmac",
            "--key",
            "k",
            "--template",
            "{id}.{body}",
        ])
        .compile()
        .unwrap_err();
        assert_eq!(e, "--template uses {id}: add --id-header");
        let e = args(&[
            "--scheme",
            "hmac",
            "--key",
            "k",
            "--timestamp-header",
            "a b",
        ])
        .compile()
        .unwrap_err();
        assert!(e.starts_with("--timestamp-header: "), "{e}");
        let e = args(&["--scheme", "hmac", "--key", "zz", "--key-encoding", "hex"])
            .compile()
            .unwrap_err();
        assert!(e.starts_with("--key: "), "{e}");
    }

    #[test]
    fn only_given_parameters_are_set() {
        let mut cfg = SignatureConfig::new(SchemeName::Hmac, vec![]);
        cfg.prefix = Some("sha256=".into());
        cfg.header = Some("X-Sig".into());
        let p = SchemeParams {
            header_name: Some("X-Other".into()),
            ..SchemeParams::default()
        };
        p.apply(&mut cfg);
        assert_eq!(cfg.header.as_deref(), Some("X-Other"));
        assert_eq!(cfg.prefix.as_deref(), Some("sha256="), "kept");
    }
}
