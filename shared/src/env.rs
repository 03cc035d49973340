//! Reading a function's settings from its environment, the same way in all
//! three: a variable that is set but wrong stops the function at start
//! with an error naming it, rather than being replaced by a default (a
//! typo in a template parameter would otherwise go unnoticed).
//!
//! Settings read from an [`Env`] rather than from `std::env` directly so
//! that the refusals can be tested with a map: changing the process
//! environment is `unsafe` (other threads may read it) and would race
//! between tests.

use std::collections::HashMap;
use std::str::FromStr;

/// Where variables are read from: the process environment, or a map.
pub struct Env {
    vars: Option<HashMap<String, String>>,
}

/// A variable that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    /// The `HOOKRELAY_DISABLE_*` variables do not make valid rules.
    #[error("the auto-disable rules (HOOKRELAY_DISABLE_*) are invalid: {0}")]
    Rules(String),
}

/// Why a function cannot start: a setting, or a client it cannot build.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("cannot build the {what}: {reason}")]
    Client { what: &'static str, reason: String },
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { vars: None }
    }

    /// Exactly these variables (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    /// The variable's value; an empty one counts as not set (templates pass
    /// empty strings for parameters left out).
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, EnvError> {
        self.get(name).ok_or(EnvError::Missing(name))
    }

    pub fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }

    /// A value parsed as `T` that satisfies `valid`; `None` when not set.
    pub fn parse<T: FromStr>(
        &self,
        name: &'static str,
        expected: &str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, EnvError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value.trim().parse::<T>() {
            Ok(v) if valid(&v) => Ok(Some(v)),
            _ => Err(EnvError::Invalid {
                name,
                value,
                expected: expected.to_string(),
            }),
        }
    }

    /// An error about `name`'s value, for checks [`Env::parse`] cannot make.
    pub fn invalid(&self, name: &'static str, expected: impl Into<String>) -> EnvError {
        EnvError::Invalid {
            name,
            value: self.get(name).unwrap_or_default(),
            expected: expected.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_but_wrong_is_an_error_unset_is_none_and_empty_is_unset() {
        let env = Env::from_pairs([("N", "12"), ("BAD", "ten"), ("ZERO", "0"), ("EMPTY", "")]);
        let positive = |n: &usize| *n > 0;
        assert_eq!(env.parse::<usize>("N", "a number", positive), Ok(Some(12)));
        assert_eq!(env.parse::<usize>("UNSET", "a number", positive), Ok(None));
        assert_eq!(env.parse::<usize>("EMPTY", "a number", positive), Ok(None));
        let e = env
            .parse::<usize>("BAD", "a positive number", positive)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable BAD=\"ten\" is invalid: a positive number"
        );
        assert!(env.parse::<usize>("ZERO", "positive", positive).is_err());
        assert_eq!(env.required("UNSET"), Err(EnvError::Missing("UNSET")));
        assert_eq!(env.or("EMPTY", "d"), "d");
    }
}
