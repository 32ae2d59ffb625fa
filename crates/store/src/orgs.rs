//! Organisations, users, their roles, and API tokens.
//!
//! A token is 256 random bits shown once to its creator as `ackctl_<base64url>`; only its
//! SHA-256 is stored, so a copy of the database lets nobody call the API. Lookup is by that
//! hash through a unique index: comparing hashes of a 256-bit secret leaks nothing usable
//! through timing, so no constant-time comparison is needed on this path.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::ids::{from_ms, from_opt_ms, to_ms};
use crate::{Error, OrgId, Result, Store, TokenId, UserId, check_name};

/// What a member of an organisation may do: `admin` anything, `member` read-only and never
/// secrets or kubeconfigs (Pipeline's rule). The server enforces it; the store records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(Error::invalid(
                "role",
                format!("{s:?} is not a role; roles are admin and member"),
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

/// A token's record; never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revision: i64,
}

/// Who presented a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub user: User,
    pub token: ApiToken,
}

/// `last_used_at` is written at most this often, so authenticating is a read, not a write,
/// on almost every request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;
const TOKEN_PREFIX: &str = "ackctl_";

fn token_hash(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

fn org_from_row(row: &AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: OrgId(row.try_get("id")?),
        name: row.try_get("name")?,
        created_at: from_ms("organization.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("organization.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        login: row.try_get("login")?,
        created_at: from_ms("user.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("user.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn membership_from_row(row: &AnyRow) -> Result<Membership> {
    let role: String = row.try_get("role")?;
    Ok(Membership {
        org_id: OrgId(row.try_get("org_id")?),
        user_id: UserId(row.try_get("user_id")?),
        role: role
            .parse()
            .map_err(|_| Error::corrupt("membership.role", &role))?,
        created_at: from_ms("membership.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("membership.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: TokenId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        name: row.try_get("name")?,
        created_at: from_ms("token.created_at", row.try_get("created_at_ms")?)?,
        last_used_at: from_opt_ms("token.last_used_at", row.try_get("last_used_at_ms")?)?,
        expires_at: from_opt_ms("token.expires_at", row.try_get("expires_at_ms")?)?,
        revoked_at: from_opt_ms("token.revoked_at", row.try_get("revoked_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

impl Store {
    /// Creates an organisation; a taken name is a conflict.
    pub async fn create_org(&self, name: &str, now: Timestamp) -> Result<Organization> {
        check_name("name", name)?;
        let row = sqlx::query(
            "INSERT INTO organizations (name, created_at_ms, updated_at_ms, revision)
             VALUES ($1, $2, $2, 1)
             RETURNING id, name, created_at_ms, updated_at_ms, revision",
        )
        .bind(name)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict(format!("an organization named {name:?} already exists"))
            } else {
                e
            }
        })?;
        org_from_row(&row)
    }

    pub async fn get_org(&self, id: OrgId) -> Result<Organization> {
        let row = sqlx::query("SELECT id, name, created_at_ms, updated_at_ms, revision FROM organizations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("organization {id}")))?;
        org_from_row(&row)
    }

    pub async fn list_orgs(&self) -> Result<Vec<Organization>> {
        let rows = sqlx::query("SELECT id, name, created_at_ms, updated_at_ms, revision FROM organizations ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// Renames an organisation if it is still at `expected_revision`.
    pub async fn rename_org(
        &self,
        id: OrgId,
        name: &str,
        expected_revision: i64,
        now: Timestamp,
    ) -> Result<Organization> {
        check_name("name", name)?;
        let row = sqlx::query(
            "UPDATE organizations SET name = $1, updated_at_ms = $2, revision = revision + 1
             WHERE id = $3 AND revision = $4
             RETURNING id, name, created_at_ms, updated_at_ms, revision",
        )
        .bind(name)
        .bind(to_ms(now))
        .bind(id.0)
        .bind(expected_revision)
        .fetch_optional(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict(format!("an organization named {name:?} already exists"))
            } else {
                e
            }
        })?;
        match row {
            Some(row) => org_from_row(&row),
            None => {
                let current = self.get_org(id).await?;
                Err(stale(
                    "organization",
                    id,
                    expected_revision,
                    current.revision,
                ))
            }
        }
    }

    /// True when no organisation exists yet: the server then bootstraps organisation 1.
    pub async fn is_empty(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    pub async fn create_user(&self, login: &str, now: Timestamp) -> Result<User> {
        check_name("login", login)?;
        let row = sqlx::query(
            "INSERT INTO users (login, created_at_ms, updated_at_ms, revision) VALUES ($1, $2, $2, 1)
             RETURNING id, login, created_at_ms, updated_at_ms, revision",
        )
        .bind(login)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict(format!("a user with login {login:?} already exists"))
            } else {
                e
            }
        })?;
        user_from_row(&row)
    }

    pub async fn get_user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query(
            "SELECT id, login, created_at_ms, updated_at_ms, revision FROM users WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("user {id}")))?;
        user_from_row(&row)
    }

    /// Makes `user` a member of `org` with `role`; already being a member is a conflict.
    pub async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> Result<Membership> {
        let row = sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at_ms, updated_at_ms, revision)
             VALUES ($1, $2, $3, $4, $4, 1)
             RETURNING org_id, user_id, role, created_at_ms, updated_at_ms, revision",
        )
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict(format!("user {user} is already a member of organization {org}"))
            } else if e.is_foreign_key_violation() {
                Error::not_found(format!("organization {org} or user {user}"))
            } else {
                e
            }
        })?;
        membership_from_row(&row)
    }

    /// The user's membership of an organisation; not a member is `NotFound`, which the server
    /// answers with 404 so that other organisations' ids reveal nothing.
    pub async fn membership(&self, org: OrgId, user: UserId) -> Result<Membership> {
        let row = sqlx::query(
            "SELECT org_id, user_id, role, created_at_ms, updated_at_ms, revision
             FROM memberships WHERE org_id = $1 AND user_id = $2",
        )
        .bind(org.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("organization {org}")))?;
        membership_from_row(&row)
    }

    /// The organisations a user belongs to, with the role in each.
    pub async fn memberships_of(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT org_id, user_id, role, created_at_ms, updated_at_ms, revision
             FROM memberships WHERE user_id = $1 ORDER BY org_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(membership_from_row).collect()
    }

    pub async fn members(&self, org: OrgId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT org_id, user_id, role, created_at_ms, updated_at_ms, revision
             FROM memberships WHERE org_id = $1 ORDER BY user_id",
        )
        .bind(org.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(membership_from_row).collect()
    }

    /// Changes a member's role if the membership is still at `expected_revision`.
    pub async fn set_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        expected_revision: i64,
        now: Timestamp,
    ) -> Result<Membership> {
        let row = sqlx::query(
            "UPDATE memberships SET role = $1, updated_at_ms = $2, revision = revision + 1
             WHERE org_id = $3 AND user_id = $4 AND revision = $5
             RETURNING org_id, user_id, role, created_at_ms, updated_at_ms, revision",
        )
        .bind(role.as_str())
        .bind(to_ms(now))
        .bind(org.0)
        .bind(user.0)
        .bind(expected_revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => membership_from_row(&row),
            None => {
                let current = self.membership(org, user).await?;
                Err(stale(
                    "membership",
                    format!("{org}/{user}"),
                    expected_revision,
                    current.revision,
                ))
            }
        }
    }

    /// Creates a token for `user` and returns its record and its value, which is not stored
    /// and cannot be shown again.
    pub async fn create_token(
        &self,
        user: UserId,
        name: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(ApiToken, SecretString)> {
        let bytes = zeroize::Zeroizing::new(crate::crypto::random_bytes::<32>()?);
        let value = SecretString::from(format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice())
        ));
        let token = self
            .import_token(user, name, &value, expires_at, now)
            .await?;
        Ok((token, value))
    }

    /// Stores a token whose value the operator chose (`--bootstrap-token`). It must be long
    /// enough to be unguessable.
    pub async fn import_token(
        &self,
        user: UserId,
        name: &str,
        value: &SecretString,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ApiToken> {
        check_name("name", name)?;
        let presented = value.expose_secret();
        if presented.len() < 32
            || presented
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "token",
                "a token is at least 32 characters without spaces (generate one with `openssl rand -hex 32`)",
            ));
        }
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_sha256, created_at_ms, expires_at_ms, revision)
             VALUES ($1, $2, $3, $4, $5, 1)
             RETURNING id, user_id, name, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, revision",
        )
        .bind(user.0)
        .bind(name)
        .bind(token_hash(presented))
        .bind(to_ms(now))
        .bind(expires_at.map(to_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict("this token value is already registered")
            } else if e.is_foreign_key_violation() {
                Error::not_found(format!("user {user}"))
            } else {
                e
            }
        })?;
        token_from_row(&row)
    }

    /// The user behind a presented bearer token, or `None` when the token is unknown, revoked
    /// or expired (all of which the server answers with 401). Records the use, at most once a
    /// minute per token.
    pub async fn authenticate(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<Option<Authenticated>> {
        let row = sqlx::query(
            "SELECT id, user_id, name, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, revision
             FROM api_tokens WHERE token_sha256 = $1",
        )
        .bind(token_hash(presented))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut token = token_from_row(&row)?;
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let now_ms = to_ms(now);
        if token
            .last_used_at
            .is_none_or(|at| now_ms - to_ms(at) >= LAST_USED_RESOLUTION_MS)
        {
            // Not a compare-and-swap: last use is a hint, and racing requests may both write it.
            sqlx::query("UPDATE api_tokens SET last_used_at_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(token.id.0)
                .execute(&self.pool)
                .await?;
            token.last_used_at = Some(now);
        }
        let user = self.get_user(token.user_id).await?;
        Ok(Some(Authenticated { user, token }))
    }

    pub async fn get_token(&self, id: TokenId) -> Result<ApiToken> {
        let row = sqlx::query(
            "SELECT id, user_id, name, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, revision
             FROM api_tokens WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("token {id}")))?;
        token_from_row(&row)
    }

    pub async fn list_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, revision
             FROM api_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token of `user`. Revoking twice keeps the first revocation time.
    pub async fn revoke_token(
        &self,
        user: UserId,
        id: TokenId,
        now: Timestamp,
    ) -> Result<ApiToken> {
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, $1), revision = revision + 1
             WHERE id = $2 AND user_id = $3
             RETURNING id, user_id, name, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms, revision",
        )
        .bind(to_ms(now))
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("token {id}")))?;
        token_from_row(&row)
    }
}

/// The error for a compare-and-swap that found the row at another revision.
pub(crate) fn stale(what: &str, id: impl fmt::Display, expected: i64, current: i64) -> Error {
    Error::conflict(format!(
        "{what} {id} is at revision {current}, not {expected}: it was changed by someone else; read it again"
    ))
}
