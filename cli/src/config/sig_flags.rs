//! Signature flags of `sources|endpoints add|update`: the scheme, its keys
//! (given or generated) and its parameters ([`SchemeParams`], the same
//! flags `sign`, `verify` and `send` take).

use super::keys::generate_key;
use crate::sig_args::SchemeParams;
use clap::Args;
use hookrelay_shared::schemes::keys::KeyConfig;
use hookrelay_shared::schemes::{SchemeName, SignatureConfig};

#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct SigFlags {
    /// Signature scheme (see `hookrelay schemes`); endpoints default to standard-webhooks.
    #[arg(long)]
    pub scheme: Option<SchemeName>,
    /// A key (repeat for several; the first signs). Replaces the configured keys.
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Generate a strong key (printed once).
    #[arg(long)]
    pub generate_key: bool,
    #[command(flatten)]
    pub params: SchemeParams,
}

/// A signature configuration after the flags, and the key generated for
/// it (to print once).
pub struct Applied {
    pub config: SignatureConfig,
    pub generated: Option<String>,
}

impl SigFlags {
    /// Whether a key was given or asked for.
    pub fn has_key(&self) -> bool {
        self.generate_key || !self.keys.is_empty()
    }

    /// Applies the flags to a signature configuration (an existing one, or
    /// a new one of `default_scheme`); flags not given leave their field as
    /// it was. `None`: there is no configuration and no scheme to make one.
    pub fn apply(
        &self,
        existing: Option<SignatureConfig>,
        default_scheme: Option<SchemeName>,
    ) -> Result<Option<Applied>, String> {
        let mut cfg = match (existing, self.scheme.or(default_scheme)) {
            (Some(mut c), Some(s)) => {
                c.scheme = s;
                c
            }
            (Some(c), None) => c,
            (None, Some(s)) => SignatureConfig::new(s, vec![]),
            (None, None) => return Ok(None),
        };
        let mut generated = None;
        if self.generate_key {
            let k = generate_key(cfg.scheme)?;
            generated = Some(k.clone());
            cfg.keys = vec![KeyConfig::Plain(k)];
        } else if !self.keys.is_empty() {
            cfg.keys = self.keys.iter().cloned().map(KeyConfig::Plain).collect();
        }
        self.params.apply(&mut cfg);
        Ok(Some(Applied {
            config: cfg,
            generated,
        }))
    }
}
