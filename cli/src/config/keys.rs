//! Keys: generating strong ones, and rotation with a grace period.

use hookrelay_shared::schemes::SchemeName;
use hookrelay_shared::schemes::keys::KeyConfig;
use std::time::Duration;
use time::OffsetDateTime;

/// 32 random bytes from the OS: whsec_<base64> for Standard Webhooks, hex otherwise.
pub fn generate_key(scheme: SchemeName) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(match scheme {
        SchemeName::StandardWebhooks => format!(
            "whsec_{}",
            hookrelay_shared::schemes::mac::base64_encode(&bytes)
        ),
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// Rotation: the new key first, previous keys kept until `grace` has passed.
pub fn rotate(keys: &mut Vec<KeyConfig>, new: String, grace: Duration, now: OffsetDateTime) {
    let until = now + grace;
    let mut kept: Vec<KeyConfig> = keys
        .drain(..)
        .filter(|k| k.is_active(now))
        .map(|k| {
            let not_after = k.not_after().map_or(until, |t| t.min(until));
            KeyConfig::WithExpiry {
                secret: k.secret().to_string(),
                not_after: Some(not_after),
            }
        })
        .collect();
    kept.insert(0, KeyConfig::Plain(new));
    *keys = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookrelay_shared::schemes::keys::KeyEncoding;

    #[test]
    fn rotation_keeps_previous_keys_for_the_grace_period_and_drops_expired_ones() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut keys = vec![
            KeyConfig::Plain("current".into()),
            KeyConfig::WithExpiry {
                secret: "older".into(),
                not_after: Some(now + Duration::from_secs(60)),
            },
            KeyConfig::WithExpiry {
                secret: "expired".into(),
                not_after: Some(now - Duration::from_secs(1)),
            },
        ];
        rotate(&mut keys, "new".into(), Duration::from_secs(86_400), now);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], KeyConfig::Plain("new".into()));
        assert_eq!(keys[1].not_after(), Some(now + Duration::from_secs(86_400)));
        assert_eq!(
            keys[2].not_after(),
            Some(now + Duration::from_secs(60)),
            "an earlier expiry is kept"
        );
    }

    #[test]
    fn generated_keys_are_strong_and_in_the_scheme_format() {
        let sw = generate_key(SchemeName::StandardWebhooks).unwrap();
        assert!(sw.starts_with("whsec_"));
        assert_eq!(KeyEncoding::Whsec.decode(&sw).unwrap().len(), 32);
        let hex = generate_key(SchemeName::Github).unwrap();
        assert_eq!(hex.len(), 64);
        assert_ne!(hex, generate_key(SchemeName::Github).unwrap());
    }
}
