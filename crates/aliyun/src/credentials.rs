//! Access keys, and the chain of places they are looked up in.
//!
//! ```text
//!   Chain::resolve ──▶ 1. explicit (given by the caller)
//!                      2. env ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET [/ ALIBABA_CLOUD_SECURITY_TOKEN]
//!                      3. env ACCESS_KEY_ID / ACCESS_KEY_SECRET [+ REGION_ID]   (cluster-autoscaler's names)
//!                      4. ~/.alibabacloud/credentials.ini  ($ALIBABA_CLOUD_CREDENTIALS_FILE, [$ALIBABA_CLOUD_PROFILE])
//!                      5. ~/.aliyun/config.json            (aliyun CLI; AK and StsToken profiles)
//!              first hit wins; when nothing is found the error lists every source and why it was skipped
//! ```
//!
//! Secrets live in [`SecretString`] from the moment they are read, and `Debug` never shows them.
//! Files are tiny and read once when a client is built, so plain blocking reads are fine.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};

const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
const ENV_REGION: &str = "ALIBABA_CLOUD_REGION_ID";
const AUTOSCALER_ACCESS_KEY_ID: &str = "ACCESS_KEY_ID";
const AUTOSCALER_ACCESS_KEY_SECRET: &str = "ACCESS_KEY_SECRET";
const AUTOSCALER_REGION: &str = "REGION_ID";
const ENV_CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
const ENV_CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
const DEFAULT_PROFILE: &str = "default";

/// An access key pair, plus a security token when it is a temporary (STS) credential.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: SecretString,
    pub security_token: Option<SecretString>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: SecretString::from(access_key_secret.into()),
            security_token: None,
        }
    }

    /// Marks these as STS credentials: requests then also carry the token.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(SecretString::from(token.into()));
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key ID identifies the key without granting anything; the rest must never reach a log.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where resolved credentials came from (for logs and `ackctl` diagnostics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Explicit,
    Environment,
    /// cluster-autoscaler's `ACCESS_KEY_ID`/`ACCESS_KEY_SECRET` (seed 004).
    AutoscalerEnvironment,
    CredentialsFile(PathBuf),
    CliConfig(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("explicit credentials"),
            Self::Environment => write!(f, "environment ({ENV_ACCESS_KEY_ID})"),
            Self::AutoscalerEnvironment => write!(f, "environment ({AUTOSCALER_ACCESS_KEY_ID})"),
            Self::CredentialsFile(path) => write!(f, "credentials file {}", path.display()),
            Self::CliConfig(path) => write!(f, "aliyun CLI config {}", path.display()),
        }
    }
}

/// Credentials found by the [`Chain`], with where they came from and, when that source names
/// one, a region to default to.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub credentials: Credentials,
    pub source: Source,
    pub region: Option<String>,
}

/// The credentials provider chain (see the module header for the order).
#[derive(Clone, Debug, Default)]
pub struct Chain {
    explicit: Option<Credentials>,
}

impl Chain {
    pub fn new() -> Self {
        Self::default()
    }

    /// Credentials given by the caller; they win over every other source.
    pub fn explicit(mut self, credentials: Credentials) -> Self {
        self.explicit = Some(credentials);
        self
    }

    /// Resolves against the process environment and the user's home directory.
    pub fn resolve(&self) -> Result<Resolved> {
        let env = |name: &str| std::env::var(name).ok();
        let home = env("HOME")
            .or_else(|| env("USERPROFILE"))
            .map(PathBuf::from);
        self.resolve_with(env, home.as_deref())
    }

    /// Resolves against an injected environment and home directory (tests use this).
    pub fn resolve_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Resolved> {
        if let Some(credentials) = &self.explicit {
            return Ok(Resolved {
                credentials: credentials.clone(),
                source: Source::Explicit,
                region: None,
            });
        }
        // An empty variable is as good as unset: that is how shells and Kubernetes pass "nothing".
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let mut tried = vec!["explicit credentials: none given".to_owned()];

        if let Some(credentials) =
            key_pair_from_env(&env, ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET)?
        {
            let credentials = match env(ENV_SECURITY_TOKEN) {
                Some(token) => credentials.with_security_token(token),
                None => credentials,
            };
            return Ok(Resolved {
                credentials,
                source: Source::Environment,
                region: env(ENV_REGION),
            });
        }
        tried.push(format!(
            "environment {ENV_ACCESS_KEY_ID}/{ENV_ACCESS_KEY_SECRET}: not set"
        ));

        if let Some(credentials) =
            key_pair_from_env(&env, AUTOSCALER_ACCESS_KEY_ID, AUTOSCALER_ACCESS_KEY_SECRET)?
        {
            return Ok(Resolved {
                credentials,
                source: Source::AutoscalerEnvironment,
                region: env(AUTOSCALER_REGION),
            });
        }
        tried.push(format!(
            "environment {AUTOSCALER_ACCESS_KEY_ID}/{AUTOSCALER_ACCESS_KEY_SECRET}: not set"
        ));

        let profile = env(ENV_PROFILE);
        if let Some(found) = from_credentials_file(&env, home, profile.as_deref(), &mut tried)? {
            return Ok(found);
        }
        if let Some(found) = from_cli_config(&env, home, profile.as_deref(), &mut tried)? {
            return Ok(found);
        }
        Err(Error::Credentials(format!(
            "no Alibaba Cloud credentials found; tried:\n  - {}\nSet {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, or run `aliyun configure`.",
            tried.join("\n  - ")
        )))
    }
}

/// Both variables or neither: half a key pair is a mistake worth reporting, not skipping.
fn key_pair_from_env(
    env: &impl Fn(&str) -> Option<String>,
    id_var: &str,
    secret_var: &str,
) -> Result<Option<Credentials>> {
    match (env(id_var), env(secret_var)) {
        (Some(id), Some(secret)) => Ok(Some(Credentials::new(id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::Credentials(format!(
            "{id_var} is set but {secret_var} is not"
        ))),
        (None, Some(_)) => Err(Error::Credentials(format!(
            "{secret_var} is set but {id_var} is not"
        ))),
    }
}

fn from_credentials_file(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
    profile: Option<&str>,
    tried: &mut Vec<String>,
) -> Result<Option<Resolved>> {
    let (path, named_by_env) = match (env(ENV_CREDENTIALS_FILE), home) {
        (Some(path), _) => (PathBuf::from(path), true),
        (None, Some(home)) => (home.join(".alibabacloud").join("credentials.ini"), false),
        (None, None) => {
            tried.push("credentials file: no home directory".to_owned());
            return Ok(None);
        }
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // A default location that does not exist is normal; a file the user named must exist.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named_by_env => {
            tried.push(format!("credentials file {}: not found", path.display()));
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::Credentials(format!(
                "cannot read credentials file {}: {e}",
                path.display()
            )));
        }
    };
    let malformed = |line: usize, what: String| {
        Error::Credentials(format!(
            "malformed credentials file {}:{line}: {what}",
            path.display()
        ))
    };
    let sections = ini::parse(&text).map_err(|e| malformed(e.line, e.message))?;
    let profile = profile.unwrap_or(DEFAULT_PROFILE);
    let Some(section) = sections.iter().find(|s| s.name == profile) else {
        tried.push(format!(
            "credentials file {}: no [{profile}] section",
            path.display()
        ));
        return Ok(None);
    };
    let require = |key: &str| {
        section
            .get(key)
            .ok_or_else(|| malformed(section.line, format!("profile [{profile}] has no `{key}`")))
    };
    let kind = section.get("type").unwrap_or("access_key");
    let credentials = match kind {
        "access_key" => Credentials::new(require("access_key_id")?, require("access_key_secret")?),
        "sts" => {
            let token = section
                .get("security_token")
                .or_else(|| section.get("sts_token"))
                .ok_or_else(|| {
                    malformed(
                        section.line,
                        format!("profile [{profile}] of type sts has no `security_token`"),
                    )
                })?;
            Credentials::new(require("access_key_id")?, require("access_key_secret")?)
                .with_security_token(token)
        }
        other => {
            return Err(malformed(
                section.line,
                format!(
                    "profile [{profile}] has type `{other}`; ackctl supports `access_key` and `sts`"
                ),
            ));
        }
    };
    Ok(Some(Resolved {
        credentials,
        source: Source::CredentialsFile(path),
        region: section.get("region_id").map(str::to_owned),
    }))
}

/// The parts of the aliyun CLI's `config.json` we read.
#[derive(Deserialize)]
struct CliConfig {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<CliProfile>,
}

#[derive(Deserialize)]
struct CliProfile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

fn from_cli_config(
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
    profile: Option<&str>,
    tried: &mut Vec<String>,
) -> Result<Option<Resolved>> {
    if env(ENV_CLI_PROFILE_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        tried.push(format!(
            "aliyun CLI config: disabled by {ENV_CLI_PROFILE_DISABLED}"
        ));
        return Ok(None);
    }
    let Some(home) = home else {
        tried.push("aliyun CLI config: no home directory".to_owned());
        return Ok(None);
    };
    let path = home.join(".aliyun").join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tried.push(format!("aliyun CLI config {}: not found", path.display()));
            return Ok(None);
        }
        Err(e) => {
            return Err(Error::Credentials(format!(
                "cannot read aliyun CLI config {}: {e}",
                path.display()
            )));
        }
    };
    let config: CliConfig = serde_json::from_str(&text).map_err(|e| {
        Error::Credentials(format!(
            "malformed aliyun CLI config {}:{}: {e}",
            path.display(),
            e.line()
        ))
    })?;
    let name = match profile {
        Some(name) => name,
        None if !config.current.is_empty() => &config.current,
        None => DEFAULT_PROFILE,
    };
    let Some(found) = config.profiles.into_iter().find(|p| p.name == name) else {
        tried.push(format!(
            "aliyun CLI config {}: no profile {name:?}",
            path.display()
        ));
        return Ok(None);
    };
    let invalid = |what: &str| {
        Error::Credentials(format!(
            "aliyun CLI config {}: profile {name:?} {what}",
            path.display()
        ))
    };
    if found.access_key_id.is_empty() || found.access_key_secret.is_empty() {
        return Err(invalid("has no access_key_id/access_key_secret"));
    }
    let credentials = Credentials::new(found.access_key_id, found.access_key_secret);
    let credentials = match found.mode.as_str() {
        // Configs written by old CLI versions have no mode; they are access keys.
        "AK" | "" => credentials,
        "StsToken" if !found.sts_token.is_empty() => {
            credentials.with_security_token(found.sts_token)
        }
        "StsToken" => return Err(invalid("of mode StsToken has no sts_token")),
        other => {
            return Err(invalid(&format!(
                "has mode {other}; ackctl supports the modes AK and StsToken"
            )));
        }
    };
    Ok(Some(Resolved {
        credentials,
        source: Source::CliConfig(path),
        region: Some(found.region_id).filter(|r| !r.is_empty()),
    }))
}

/// Just enough INI for `credentials.ini`: `[section]`, `key = value`, `#`/`;` comment lines.
mod ini {
    pub struct Section<'a> {
        pub name: &'a str,
        /// 1-based line of the `[section]` header, for error messages.
        pub line: usize,
        entries: Vec<(&'a str, &'a str)>,
    }

    impl<'a> Section<'a> {
        /// Keys are case-insensitive, as in Python's configparser; the first occurrence wins.
        pub fn get(&self, key: &str) -> Option<&'a str> {
            self.entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
                .filter(|v| !v.is_empty())
        }
    }

    pub struct ParseError {
        pub line: usize,
        pub message: String,
    }

    pub fn parse(text: &str) -> Result<Vec<Section<'_>>, ParseError> {
        let mut sections: Vec<Section<'_>> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let error = |message: &str| ParseError {
                line,
                message: message.to_owned(),
            };
            if let Some(header) = trimmed.strip_prefix('[') {
                let name = header
                    .strip_suffix(']')
                    .ok_or_else(|| error("a section header must end with `]`"))?
                    .trim();
                if name.is_empty() {
                    return Err(error("empty section name"));
                }
                sections.push(Section {
                    name,
                    line,
                    entries: Vec::new(),
                });
                continue;
            }
            let (key, value) = trimmed
                .split_once('=')
                .ok_or_else(|| error("expected `key = value` or `[section]`"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(error("empty key before `=`"));
            }
            let section = sections
                .last_mut()
                .ok_or_else(|| error("`key = value` before any `[section]`"))?;
            section.entries.push((key, unquote(value.trim())));
        }
        Ok(sections)
    }

    fn unquote(value: &str) -> &str {
        ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn write(home: &Path, relative: &str, text: &str) -> PathBuf {
        let path = home.join(relative);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    fn secret(c: &Credentials) -> &str {
        c.access_key_secret.expose_secret()
    }

    fn token(c: &Credentials) -> Option<&str> {
        c.security_token.as_ref().map(|t| t.expose_secret())
    }

    const INI: &str = "\
# written by hand
[default]
type = access_key
access_key_id = ini-id
access_key_secret = ini-secret

[ci]
type = sts
access_key_id = STS.ci-id
access_key_secret = \"ci-secret\"
sts_token = ci-token
";

    const CLI: &str = r#"{
        "current": "work",
        "profiles": [
            {"name": "default", "mode": "AK", "access_key_id": "cli-default-id", "access_key_secret": "s0", "region_id": "cn-beijing"},
            {"name": "work", "mode": "AK", "access_key_id": "cli-work-id", "access_key_secret": "s1", "region_id": "cn-shanghai"},
            {"name": "temp", "mode": "StsToken", "access_key_id": "STS.t", "access_key_secret": "s2", "sts_token": "tok", "region_id": ""},
            {"name": "role", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"}
        ]
    }"#;

    #[test]
    fn debug_output_never_shows_the_secret_or_the_token() {
        let creds = Credentials::new("LTAIexample", "very-secret-value")
            .with_security_token("very-secret-token");
        let shown = format!("{creds:?} {:?}", Chain::new().explicit(creds.clone()));
        assert!(shown.contains("LTAIexample"));
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(!shown.contains("very-secret-token"), "{shown}");
    }

    #[test]
    fn explicit_credentials_win_over_everything() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".alibabacloud/credentials.ini", INI);
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "env-id"),
            (ENV_ACCESS_KEY_SECRET, "env-secret"),
        ]);
        let resolved = Chain::new()
            .explicit(Credentials::new("given", "given-secret"))
            .resolve_with(env, Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.source, Source::Explicit);
        assert_eq!(resolved.credentials.access_key_id, "given");
    }

    #[test]
    fn the_alibaba_environment_wins_over_autoscaler_environment_and_files() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".alibabacloud/credentials.ini", INI);
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "env-id"),
            (ENV_ACCESS_KEY_SECRET, "env-secret"),
            (ENV_SECURITY_TOKEN, "env-token"),
            (AUTOSCALER_ACCESS_KEY_ID, "ca-id"),
            (AUTOSCALER_ACCESS_KEY_SECRET, "ca-secret"),
        ]);
        let resolved = Chain::new()
            .resolve_with(env, Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.source, Source::Environment);
        assert_eq!(resolved.credentials.access_key_id, "env-id");
        assert_eq!(secret(&resolved.credentials), "env-secret");
        assert_eq!(token(&resolved.credentials), Some("env-token"));
    }

    #[test]
    fn the_autoscaler_environment_also_gives_a_region_hint() {
        let env = env_of(&[
            (AUTOSCALER_ACCESS_KEY_ID, "ca-id"),
            (AUTOSCALER_ACCESS_KEY_SECRET, "ca-secret"),
            (AUTOSCALER_REGION, "cn-hangzhou"),
        ]);
        let resolved = Chain::new().resolve_with(env, None).expect("resolves");
        assert_eq!(resolved.source, Source::AutoscalerEnvironment);
        assert_eq!(resolved.credentials.access_key_id, "ca-id");
        assert_eq!(token(&resolved.credentials), None);
        assert_eq!(resolved.region.as_deref(), Some("cn-hangzhou"));
    }

    #[test]
    fn half_a_key_pair_in_the_environment_is_an_error() {
        let err = Chain::new()
            .resolve_with(env_of(&[(ENV_ACCESS_KEY_ID, "id")]), None)
            .expect_err("half a pair");
        assert!(err.to_string().contains(ENV_ACCESS_KEY_SECRET), "{err}");
    }

    #[test]
    fn empty_environment_variables_count_as_unset() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, ""),
            (ENV_ACCESS_KEY_SECRET, ""),
            (AUTOSCALER_ACCESS_KEY_ID, "ca-id"),
            (AUTOSCALER_ACCESS_KEY_SECRET, "ca-secret"),
        ]);
        let resolved = Chain::new().resolve_with(env, None).expect("resolves");
        assert_eq!(resolved.source, Source::AutoscalerEnvironment);
    }

    #[test]
    fn the_credentials_file_default_section_is_read() {
        let home = tempfile::tempdir().expect("tempdir");
        let path = write(home.path(), ".alibabacloud/credentials.ini", INI);
        write(home.path(), ".aliyun/config.json", CLI);
        let resolved = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.source, Source::CredentialsFile(path));
        assert_eq!(resolved.credentials.access_key_id, "ini-id");
        assert_eq!(secret(&resolved.credentials), "ini-secret");
        assert_eq!(token(&resolved.credentials), None);
    }

    #[test]
    fn the_profile_variable_selects_an_sts_section() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".alibabacloud/credentials.ini", INI);
        let resolved = Chain::new()
            .resolve_with(env_of(&[(ENV_PROFILE, "ci")]), Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.credentials.access_key_id, "STS.ci-id");
        assert_eq!(
            secret(&resolved.credentials),
            "ci-secret",
            "quotes are stripped"
        );
        assert_eq!(token(&resolved.credentials), Some("ci-token"));
    }

    #[test]
    fn the_credentials_file_location_can_be_overridden() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "elsewhere.ini", INI);
        let env = env_of(&[(ENV_CREDENTIALS_FILE, path.to_str().expect("utf-8 path"))]);
        let resolved = Chain::new().resolve_with(env, None).expect("resolves");
        assert_eq!(resolved.source, Source::CredentialsFile(path));
    }

    #[test]
    fn a_named_credentials_file_that_does_not_exist_is_an_error() {
        let env = env_of(&[(ENV_CREDENTIALS_FILE, "/nonexistent/creds.ini")]);
        let err = Chain::new()
            .resolve_with(env, None)
            .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/creds.ini"), "{err}");
    }

    #[test]
    fn a_malformed_credentials_file_is_reported_with_file_and_line() {
        let home = tempfile::tempdir().expect("tempdir");
        let path = write(
            home.path(),
            ".alibabacloud/credentials.ini",
            "[default]\naccess_key_id = a\nthis line is wrong\n",
        );
        let err = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect_err("malformed");
        let expected = format!("{}:3:", path.display());
        assert!(err.to_string().contains(&expected), "{err}");
    }

    #[test]
    fn a_section_missing_its_secret_is_reported_with_the_section_line() {
        let home = tempfile::tempdir().expect("tempdir");
        write(
            home.path(),
            ".alibabacloud/credentials.ini",
            "\n[default]\naccess_key_id = a\n",
        );
        let err = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect_err("incomplete");
        let text = err.to_string();
        assert!(
            text.contains("credentials.ini:2:") && text.contains("access_key_secret"),
            "{text}"
        );
    }

    #[test]
    fn an_unsupported_credentials_file_type_is_an_error() {
        let home = tempfile::tempdir().expect("tempdir");
        write(
            home.path(),
            ".alibabacloud/credentials.ini",
            "[default]\ntype = ecs_ram_role\nrole_name = r\n",
        );
        let err = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect_err("unsupported");
        assert!(err.to_string().contains("ecs_ram_role"), "{err}");
    }

    #[test]
    fn the_cli_config_current_profile_is_used_when_there_is_no_credentials_file() {
        let home = tempfile::tempdir().expect("tempdir");
        let path = write(home.path(), ".aliyun/config.json", CLI);
        let resolved = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.source, Source::CliConfig(path));
        assert_eq!(resolved.credentials.access_key_id, "cli-work-id");
        assert_eq!(resolved.region.as_deref(), Some("cn-shanghai"));
    }

    #[test]
    fn the_profile_variable_selects_a_cli_sts_profile() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".aliyun/config.json", CLI);
        let resolved = Chain::new()
            .resolve_with(env_of(&[(ENV_PROFILE, "temp")]), Some(home.path()))
            .expect("resolves");
        assert_eq!(resolved.credentials.access_key_id, "STS.t");
        assert_eq!(token(&resolved.credentials), Some("tok"));
        assert_eq!(resolved.region, None);
    }

    #[test]
    fn an_unsupported_cli_mode_is_an_error() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".aliyun/config.json", CLI);
        let err = Chain::new()
            .resolve_with(env_of(&[(ENV_PROFILE, "role")]), Some(home.path()))
            .expect_err("unsupported mode");
        assert!(err.to_string().contains("RamRoleArn"), "{err}");
    }

    #[test]
    fn a_malformed_cli_config_names_the_file() {
        let home = tempfile::tempdir().expect("tempdir");
        let path = write(home.path(), ".aliyun/config.json", "{\"profiles\": [");
        let err = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect_err("malformed");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn the_cli_config_can_be_disabled() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), ".aliyun/config.json", CLI);
        let err = Chain::new()
            .resolve_with(
                env_of(&[(ENV_CLI_PROFILE_DISABLED, "true")]),
                Some(home.path()),
            )
            .expect_err("disabled");
        assert!(err.to_string().contains(ENV_CLI_PROFILE_DISABLED), "{err}");
    }

    #[test]
    fn finding_nothing_lists_every_source_tried() {
        let home = tempfile::tempdir().expect("tempdir");
        let err = Chain::new()
            .resolve_with(env_of(&[]), Some(home.path()))
            .expect_err("nothing");
        assert!(matches!(err, Error::Credentials(_)));
        let text = err.to_string();
        for source in [
            "explicit credentials",
            ENV_ACCESS_KEY_ID,
            AUTOSCALER_ACCESS_KEY_ID,
            "credentials.ini: not found",
            "config.json: not found",
        ] {
            assert!(text.contains(source), "{source} missing from: {text}");
        }
    }
}
