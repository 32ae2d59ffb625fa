//! Typed secrets, encrypted at rest (see [`crate::crypto`]). The row keeps the name, type and
//! tags in clear, for listing; the values exist in clear only in memory, in zeroizing types.

use std::collections::BTreeMap;

use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::crypto::{self, MasterKey, Sealed};
use crate::ids::{from_ms, to_ms};
use crate::orgs::stale;
use crate::secret_types::{self, SecretType, SecretValues};
use crate::{Error, OrgId, Result, SecretId, Store, check_name, json_column, to_json};

/// A secret to create.
#[derive(Clone, Debug)]
pub struct NewSecret {
    pub name: String,
    pub kind: SecretType,
    pub values: SecretValues,
    pub tags: Vec<String>,
}

/// A secret without its values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretMeta {
    pub id: SecretId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: SecretType,
    pub tags: Vec<String>,
    /// Which master key wraps the data key (shown to operators during a rotation).
    pub master_key_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

/// The associated data of a secret: the row it belongs to. Moving its ciphertext to another
/// id, organisation or type makes it fail to open.
fn record(id: &SecretId, org: OrgId, kind: SecretType) -> Vec<u8> {
    crypto::binding(&[
        b"secret",
        id.as_str().as_bytes(),
        org.0.to_string().as_bytes(),
        kind.as_str().as_bytes(),
    ])
}

fn plaintext(values: &SecretValues) -> Result<Zeroizing<Vec<u8>>> {
    let map: BTreeMap<&str, &str> = values.iter().map(|(k, v)| (k, v.expose_secret())).collect();
    // Sized for the worst case of JSON escaping (6 bytes a character) so the buffer never
    // grows: a reallocation would leave an unzeroed copy of the values behind.
    let worst = map
        .iter()
        .map(|(k, v)| 6 * (k.len() + v.len()) + 6)
        .sum::<usize>()
        + 2;
    let mut out = Zeroizing::new(Vec::with_capacity(worst));
    serde_json::to_writer(&mut *out, &map)
        .map_err(|e| Error::Crypto(format!("serializing values: {e}")))?;
    Ok(out)
}

fn values_from(plain: &[u8]) -> Result<SecretValues> {
    let map: BTreeMap<String, String> =
        serde_json::from_slice(plain).map_err(|e| Error::corrupt("secret values", e))?;
    Ok(SecretValues::from_plain(map))
}

fn meta_from_row(row: &AnyRow) -> Result<SecretMeta> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("type")?;
    let tags: String = row.try_get("tags")?;
    Ok(SecretMeta {
        id: id.parse().map_err(|_| Error::corrupt("secret.id", &id))?,
        org_id: OrgId(row.try_get("org_id")?),
        name: row.try_get("name")?,
        kind: kind
            .parse()
            .map_err(|_| Error::corrupt("secret.type", &kind))?,
        tags: json_column("secret.tags", &tags)?,
        master_key_id: row.try_get("master_key_id")?,
        created_at: from_ms("secret.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("secret.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn sealed_from_row(row: &AnyRow) -> Result<Sealed> {
    Ok(Sealed {
        value_nonce: row.try_get("value_nonce")?,
        value_ciphertext: row.try_get("value_ciphertext")?,
        key_nonce: row.try_get("key_nonce")?,
        wrapped_key: row.try_get("wrapped_key")?,
        master_key_id: row.try_get("master_key_id")?,
    })
}

fn check_tags(tags: &[String]) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        check_name(&format!("tags[{i}]"), tag)?;
    }
    Ok(())
}

impl Store {
    /// Validates and stores a secret, its values sealed under `key`. A name already used in the
    /// organisation is a conflict.
    pub async fn create_secret(
        &self,
        org: OrgId,
        new: NewSecret,
        key: &MasterKey,
        now: Timestamp,
    ) -> Result<SecretMeta> {
        check_name("name", &new.name)?;
        check_tags(&new.tags)?;
        secret_types::validate(new.kind, &new.values)?;
        let id = SecretId::random()?;
        let sealed = crypto::seal(key, &record(&id, org, new.kind), &plaintext(&new.values)?)?;
        let row = sqlx::query(
            "INSERT INTO secrets (id, org_id, name, type, tags, value_nonce, value_ciphertext, key_nonce,
                                  wrapped_key, master_key_id, created_at_ms, updated_at_ms, revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1)
             RETURNING id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision",
        )
            .bind(id.as_str())
            .bind(org.0)
            .bind(new.name.as_str())
            .bind(new.kind.as_str())
            .bind(to_json("tags", &new.tags)?)
            .bind(sealed.value_nonce)
            .bind(sealed.value_ciphertext)
            .bind(sealed.key_nonce)
            .bind(sealed.wrapped_key)
            .bind(sealed.master_key_id)
            .bind(to_ms(now))
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)
            .map_err(|e| {
                if e.is_unique_violation() {
                    Error::conflict(format!("a secret named {:?} already exists in organization {org}", new.name))
                } else if e.is_foreign_key_violation() {
                    Error::not_found(format!("organization {org}"))
                } else {
                    e
                }
            })?;
        meta_from_row(&row)
    }

    pub async fn get_secret(&self, org: OrgId, id: &SecretId) -> Result<SecretMeta> {
        let row = sqlx::query(
            "SELECT id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision
             FROM secrets WHERE org_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("secret {id}")))?;
        meta_from_row(&row)
    }

    pub async fn find_secret_by_name(&self, org: OrgId, name: &str) -> Result<SecretMeta> {
        let row = sqlx::query(
            "SELECT id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision
             FROM secrets WHERE org_id = $1 AND name = $2",
        )
        .bind(org.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("secret named {name:?}")))?;
        meta_from_row(&row)
    }

    /// The organisation's secrets, optionally of one type, ordered by name.
    pub async fn list_secrets(
        &self,
        org: OrgId,
        kind: Option<SecretType>,
    ) -> Result<Vec<SecretMeta>> {
        let rows = sqlx::query(
            "SELECT id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision
             FROM secrets WHERE org_id = $1 AND ($2 IS NULL OR type = $2) ORDER BY name",
        )
        .bind(org.0)
        .bind(kind.map(SecretType::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(meta_from_row).collect()
    }

    /// A secret with its decrypted values.
    pub async fn reveal_secret(
        &self,
        org: OrgId,
        id: &SecretId,
        key: &MasterKey,
    ) -> Result<(SecretMeta, SecretValues)> {
        let row = sqlx::query(
            "SELECT id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision,
                    value_nonce, value_ciphertext, key_nonce, wrapped_key
             FROM secrets WHERE org_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("secret {id}")))?;
        let meta = meta_from_row(&row)?;
        let plain = crypto::open(
            key,
            &record(&meta.id, meta.org_id, meta.kind),
            &sealed_from_row(&row)?,
        )?;
        Ok((meta, values_from(&plain)?))
    }

    /// Replaces a secret's values (under a fresh data key) if it is still at `expected_revision`.
    pub async fn update_secret_values(
        &self,
        org: OrgId,
        id: &SecretId,
        values: SecretValues,
        expected_revision: i64,
        key: &MasterKey,
        now: Timestamp,
    ) -> Result<SecretMeta> {
        let current = self.get_secret(org, id).await?;
        secret_types::validate(current.kind, &values)?;
        let sealed = crypto::seal(key, &record(id, org, current.kind), &plaintext(&values)?)?;
        let row = sqlx::query(
            "UPDATE secrets SET value_nonce = $1, value_ciphertext = $2, key_nonce = $3, wrapped_key = $4,
                    master_key_id = $5, updated_at_ms = $6, revision = revision + 1
             WHERE org_id = $7 AND id = $8 AND revision = $9
             RETURNING id, org_id, name, type, tags, master_key_id, created_at_ms, updated_at_ms, revision",
        )
        .bind(sealed.value_nonce)
        .bind(sealed.value_ciphertext)
        .bind(sealed.key_nonce)
        .bind(sealed.wrapped_key)
        .bind(sealed.master_key_id)
        .bind(to_ms(now))
        .bind(org.0)
        .bind(id.as_str())
        .bind(expected_revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => meta_from_row(&row),
            None => {
                let current = self.get_secret(org, id).await?;
                Err(stale("secret", id, expected_revision, current.revision))
            }
        }
    }

    /// Deletes a secret. A secret that a cluster (not yet deleted) uses is a conflict: deleting
    /// it would strand the cluster without credentials.
    pub async fn delete_secret(&self, org: OrgId, id: &SecretId) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM secrets WHERE org_id = $1 AND id = $2
             AND NOT EXISTS (SELECT 1 FROM clusters WHERE secret_id = $2 AND status <> 'DELETED')",
        )
        .bind(org.0)
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        self.get_secret(org, id).await?;
        Err(Error::conflict(format!(
            "secret {id} is used by a cluster; delete the cluster first"
        )))
    }

    /// Re-wraps every data key sealed under `old` with `new`, in one transaction: either every
    /// secret moves to the new key or none does. Returns how many moved. A secret wrapped by a
    /// third key stops the rotation (it could never be opened afterwards). Run it with the
    /// servers stopped, or they would keep sealing new secrets under the old key.
    pub async fn rotate_master_key(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        now: Timestamp,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT id, org_id, type, master_key_id, value_nonce, value_ciphertext, key_nonce, wrapped_key
             FROM secrets ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut moved = 0;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let id: SecretId = id.parse().map_err(|_| Error::corrupt("secret.id", &id))?;
            let kind: String = row.try_get("type")?;
            let kind: SecretType = kind
                .parse()
                .map_err(|_| Error::corrupt("secret.type", &kind))?;
            let org = OrgId(row.try_get("org_id")?);
            let sealed = sealed_from_row(row)?;
            if sealed.master_key_id == new.id() {
                continue;
            }
            if sealed.master_key_id != old.id() {
                return Err(Error::Crypto(format!(
                    "secret {id} is wrapped by master key {}, which is neither the old key {} nor the new key {}",
                    sealed.master_key_id,
                    old.id(),
                    new.id()
                )));
            }
            let rewrapped = crypto::rewrap(old, new, &record(&id, org, kind), &sealed)?;
            sqlx::query(
                "UPDATE secrets SET key_nonce = $1, wrapped_key = $2, master_key_id = $3,
                        updated_at_ms = $4, revision = revision + 1
                 WHERE id = $5",
            )
            .bind(rewrapped.key_nonce)
            .bind(rewrapped.wrapped_key)
            .bind(rewrapped.master_key_id)
            .bind(to_ms(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            moved += 1;
        }
        tx.commit().await?;
        Ok(moved)
    }
}
