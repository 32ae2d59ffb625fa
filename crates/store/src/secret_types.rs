//! Secret types and their fields, after Pipeline's registry (`internal/secret/types`): which
//! fields each type has, which are required, and which may be shown to members. Pure: no I/O,
//! so the server can validate a request before touching the database.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The kinds of secret the control plane understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretType {
    /// Alibaba Cloud access keys, used to create clusters.
    Alibaba,
    /// An SSH key pair.
    Ssh,
    /// A username and password.
    Password,
    /// Any fields at all.
    Generic,
}

/// One field of a secret type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub required: bool,
    /// Whether members may see the value (an access key id, a user name), as in Pipeline.
    pub safe_to_display: bool,
}

const fn field(name: &'static str, required: bool, safe_to_display: bool) -> Field {
    Field {
        name,
        required,
        safe_to_display,
    }
}

const ALIBABA: &[Field] = &[
    field("ALIBABA_ACCESS_KEY_ID", true, true),
    field("ALIBABA_ACCESS_KEY_SECRET", true, false),
    field("ALIBABA_REGION_ID", false, true),
];
const SSH: &[Field] = &[
    field("user", true, true),
    field("identifier", true, true),
    field("public_key_data", true, true),
    field("public_key_fingerprint", true, true),
    field("private_key_data", true, false),
];
// Pipeline generates the password when it is left out; generating is the server's job, so the
// store accepts a password secret without one only if the caller fills it in first.
const PASSWORD: &[Field] = &[
    field("username", true, true),
    field("password", true, false),
];

impl SecretType {
    pub const ALL: [SecretType; 4] = [
        SecretType::Alibaba,
        SecretType::Ssh,
        SecretType::Password,
        SecretType::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::Alibaba => "alibaba",
            SecretType::Ssh => "ssh",
            SecretType::Password => "password",
            SecretType::Generic => "generic",
        }
    }

    /// The fields of this type; empty for `generic`, which takes any.
    pub fn fields(self) -> &'static [Field] {
        match self {
            SecretType::Alibaba => ALIBABA,
            SecretType::Ssh => SSH,
            SecretType::Password => PASSWORD,
            SecretType::Generic => &[],
        }
    }

    /// Whether a field's value may be shown to someone who may not read secrets.
    pub fn safe_to_display(self, name: &str) -> bool {
        self.fields()
            .iter()
            .any(|f| f.name == name && f.safe_to_display)
    }
}

impl fmt::Display for SecretType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecretType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SecretType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = SecretType::ALL.iter().map(|t| t.as_str()).collect();
                Error::invalid(
                    "type",
                    format!(
                        "unknown secret type {s:?}; known types: {}",
                        known.join(", ")
                    ),
                )
            })
    }
}

/// A secret's values: field name to value. The values are `SecretString`s, zeroed when dropped;
/// Debug prints the field names only.
#[derive(Default, Clone)]
pub struct SecretValues(BTreeMap<String, SecretString>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretValues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        self.0.insert(name.into(), value);
    }

    /// Builds values from plain strings (a request body just parsed); the strings are moved in.
    pub fn from_plain<K: Into<String>>(pairs: impl IntoIterator<Item = (K, String)>) -> Self {
        SecretValues(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), SecretString::from(v)))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks the values against the type: every required field present and non-empty, no field
/// the type does not have (a typo such as `ALIBABA_ACCESS_KEY` would otherwise be stored and
/// the real field reported missing only when the cloud refuses the key), names well-formed.
pub fn validate(kind: SecretType, values: &SecretValues) -> Result<()> {
    for name in values.names() {
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("values.{name}"),
                "a field name is 1 to 128 characters without control characters",
            ));
        }
    }
    if kind == SecretType::Generic {
        if values.is_empty() {
            return Err(Error::invalid(
                "values",
                "a generic secret needs at least one field",
            ));
        }
        return Ok(());
    }
    let fields = kind.fields();
    for name in values.names() {
        if !fields.iter().any(|f| f.name == name) {
            let known: Vec<_> = fields.iter().map(|f| f.name).collect();
            return Err(Error::invalid(
                format!("values.{name}"),
                format!(
                    "{kind} secrets have no such field; their fields are {}",
                    known.join(", ")
                ),
            ));
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        match values.get(f.name) {
            None => {
                return Err(Error::invalid(
                    format!("values.{}", f.name),
                    format!("required for {kind} secrets"),
                ));
            }
            Some(v) if v.expose_secret().trim().is_empty() => {
                return Err(Error::invalid(
                    format!("values.{}", f.name),
                    "must not be empty",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> SecretValues {
        SecretValues::from_plain(pairs.iter().map(|(k, v)| (*k, v.to_string())))
    }

    fn error_field(r: Result<()>) -> Option<String> {
        match r {
            Err(Error::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn the_seed_alibaba_secret_is_valid() {
        let v = values(&[
            ("ALIBABA_ACCESS_KEY_ID", "LTAI"),
            ("ALIBABA_ACCESS_KEY_SECRET", "s3cr3t"),
        ]);
        assert!(validate(SecretType::Alibaba, &v).is_ok());
    }

    #[test]
    fn a_missing_required_field_is_named_in_the_error() {
        let v = values(&[("ALIBABA_ACCESS_KEY_ID", "LTAI")]);
        let err = validate(SecretType::Alibaba, &v)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid values.ALIBABA_ACCESS_KEY_SECRET: required for alibaba secrets")
        );
        let ssh = values(&[
            ("user", "root"),
            ("identifier", "x"),
            ("public_key_data", "p"),
            ("public_key_fingerprint", "f"),
        ]);
        assert_eq!(
            error_field(validate(SecretType::Ssh, &ssh)).as_deref(),
            Some("values.private_key_data")
        );
        assert_eq!(
            error_field(validate(
                SecretType::Password,
                &values(&[("password", "p")])
            ))
            .as_deref(),
            Some("values.username")
        );
    }

    #[test]
    fn an_empty_required_value_is_refused() {
        let v = values(&[
            ("ALIBABA_ACCESS_KEY_ID", "LTAI"),
            ("ALIBABA_ACCESS_KEY_SECRET", "  "),
        ]);
        assert_eq!(
            error_field(validate(SecretType::Alibaba, &v)).as_deref(),
            Some("values.ALIBABA_ACCESS_KEY_SECRET")
        );
    }

    #[test]
    fn a_field_the_type_does_not_have_is_refused_with_the_known_fields() {
        let v = values(&[
            ("ALIBABA_ACCESS_KEY", "LTAI"),
            ("ALIBABA_ACCESS_KEY_SECRET", "s"),
        ]);
        let err = validate(SecretType::Alibaba, &v)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "invalid values.ALIBABA_ACCESS_KEY: alibaba secrets have no such field"
            ),
            "{err}"
        );
        assert!(err.contains("ALIBABA_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn generic_secrets_take_any_fields_but_not_none() {
        assert!(validate(SecretType::Generic, &values(&[("anything", "x")])).is_ok());
        assert_eq!(
            error_field(validate(SecretType::Generic, &values(&[]))).as_deref(),
            Some("values")
        );
    }

    #[test]
    fn types_parse_from_their_names_and_unknown_types_list_the_known_ones() {
        for t in SecretType::ALL {
            assert_eq!(t.as_str().parse::<SecretType>().ok(), Some(t));
        }
        let err = "amazon".parse::<SecretType>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid type: unknown secret type \"amazon\"; known types: alibaba, ssh, password, generic"
            )
        );
    }

    #[test]
    fn debug_output_shows_field_names_but_never_values() {
        let v = values(&[("ALIBABA_ACCESS_KEY_SECRET", "do-not-print-me")]);
        let shown = format!("{v:?}");
        assert!(shown.contains("ALIBABA_ACCESS_KEY_SECRET") && !shown.contains("do-not-print-me"));
        assert!(SecretType::Alibaba.safe_to_display("ALIBABA_ACCESS_KEY_ID"));
        assert!(!SecretType::Alibaba.safe_to_display("ALIBABA_ACCESS_KEY_SECRET"));
    }
}
