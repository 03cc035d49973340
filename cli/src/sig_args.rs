//! Command-line flags that make a [`SignatureConfig`], shared by `sign`,
//! `verify` and `send`. Only flags the user gave become parameters, so the
//! scheme table's own validation says when one does not apply.

use clap::Args;
use hookrelay_shared::schemes::keys::{KeyConfig, KeyEncoding};
use hookrelay_shared::schemes::mac::Encoding;
use hookrelay_shared::schemes::{Scheme, SchemeName, SignatureConfig};

#[derive(Args, Debug, Clone)]
pub struct SigArgs {
    /// Signature scheme (see `hookrelay schemes`).
    #[arg(long, short = 's')]
    pub scheme: SchemeName,
    /// Key (repeat for several: the first signs, any verifies). For
    /// standard-webhooks a whsec_ secret; for basic, user:password.
    #[arg(long = "key", short = 'k', required = true)]
    pub keys: Vec<String>,
    /// Header that carries the signature (leaftrade, smarterlaunch, hmac, token).
    #[arg(long = "header-name")]
    pub header_name: Option<String>,
    /// hex or base64 (leaftrade, hmac).
    #[arg(long)]
    pub encoding: Option<Encoding>,
    /// LeadDone client id (X-Webhook-ClientId).
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

pub fn parse_key_encoding(s: &str) -> Result<KeyEncoding, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown key encoding {s:?} (utf8|base64|hex|whsec)"))
}

impl SigArgs {
    pub fn config(&self) -> SignatureConfig {
        let keys: Vec<KeyConfig> = self.keys.iter().cloned().map(KeyConfig::Plain).collect();
        let mut cfg = SignatureConfig::new(self.scheme, keys);
        cfg.header = self.header_name.clone();
        cfg.encoding = self.encoding;
        cfg.client_id = self.client_id.clone();
        cfg.prefix = self.prefix.clone();
        cfg.timestamp_header = self.timestamp_header.clone();
        cfg.id_header = self.id_header.clone();
        cfg.template = self.template.clone();
        cfg.key_encoding = self.key_encoding;
        cfg.tolerance_secs = self.tolerance_secs;
        cfg
    }

    pub fn compile(&self) -> Result<Scheme, String> {
        Scheme::compile(&self.config()).map_err(|e| e.to_string())
    }
}
