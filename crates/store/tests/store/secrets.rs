//! Typed secrets encrypted at rest, and master-key rotation.

use std::sync::Arc;

use secrecy::ExposeSecret;
use sqlx::Row;
use store::{Backend, Error, MasterKey, NewSecret, OrgId, SecretType, SecretValues, Store};

use crate::harness::{TestDb, at};
use crate::on_both_backends;

on_both_backends! {
    an_alibaba_secret_round_trips_through_encryption => round_trip;
    a_secret_missing_a_required_field_is_refused_naming_the_field => validation;
    secrets_are_scoped_to_their_organization => scoping;
    no_secret_value_is_stored_in_plain_text => no_plain_text;
    a_ciphertext_moved_to_another_row_does_not_decrypt => swapped_rows;
    updating_values_is_compare_and_swap => update_values;
    rotating_the_master_key_rewraps_every_secret_at_once => rotation;
    a_rotation_that_meets_an_unknown_key_changes_nothing => failed_rotation;
}

const KEY_ID: &str = "LTAI5tQ9plaintextID";
const KEY_SECRET: &str = "Zx8-very-secret-access-key-secret-value";

fn alibaba(name: &str) -> NewSecret {
    NewSecret {
        name: name.to_owned(),
        kind: SecretType::Alibaba,
        values: SecretValues::from_plain([
            ("ALIBABA_ACCESS_KEY_ID", KEY_ID.to_owned()),
            ("ALIBABA_ACCESS_KEY_SECRET", format!("{KEY_SECRET}-{name}")),
        ]),
        tags: vec!["team:infra".to_owned()],
    }
}

fn key(n: u8) -> MasterKey {
    MasterKey::from_bytes([n; 32])
}

async fn org(s: &Store, name: &str) -> OrgId {
    s.create_org(name, at(0)).await.expect("org").id
}

async fn round_trip(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let meta = s
        .create_secret(o, alibaba("my-alibaba-secret"), &key(1), at(1))
        .await
        .expect("create");
    assert_eq!(
        (meta.kind, meta.revision, meta.master_key_id.as_str()),
        (SecretType::Alibaba, 1, key(1).id())
    );
    assert_eq!(meta.tags, vec!["team:infra".to_owned()]);
    let (again, values) = s.reveal_secret(o, &meta.id, &key(1)).await.expect("reveal");
    assert_eq!(again, meta);
    assert_eq!(values.len(), 2);
    assert_eq!(
        values
            .get("ALIBABA_ACCESS_KEY_ID")
            .map(|v| v.expose_secret().to_owned())
            .as_deref(),
        Some(KEY_ID)
    );
    assert_eq!(
        values
            .get("ALIBABA_ACCESS_KEY_SECRET")
            .map(|v| v.expose_secret().to_owned()),
        Some(format!("{KEY_SECRET}-my-alibaba-secret"))
    );
    let wrong = s.reveal_secret(o, &meta.id, &key(2)).await;
    assert!(matches!(wrong, Err(Error::Crypto(_))), "{wrong:?}");
    assert_eq!(
        s.find_secret_by_name(o, "my-alibaba-secret")
            .await
            .expect("by name")
            .id,
        meta.id
    );
    let dup = s
        .create_secret(o, alibaba("my-alibaba-secret"), &key(1), at(2))
        .await;
    assert!(matches!(dup, Err(Error::Conflict { .. })), "{dup:?}");
}

async fn validation(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let mut missing = alibaba("x");
    missing.values = SecretValues::from_plain([("ALIBABA_ACCESS_KEY_ID", KEY_ID.to_owned())]);
    match s.create_secret(o, missing, &key(1), at(1)).await {
        Err(Error::Invalid { field, why }) => {
            assert_eq!(field, "values.ALIBABA_ACCESS_KEY_SECRET");
            assert_eq!(why, "required for alibaba secrets");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let mut ssh = alibaba("ssh");
    ssh.kind = SecretType::Ssh;
    let err = s.create_secret(o, ssh, &key(1), at(1)).await;
    assert!(
        matches!(err, Err(Error::Invalid { ref field, .. }) if field == "values.ALIBABA_ACCESS_KEY_ID"),
        "{err:?}"
    );
    assert!(
        s.list_secrets(o, None).await.expect("list").is_empty(),
        "nothing half-written"
    );
}

async fn scoping(db: Arc<TestDb>) {
    let s = &db.store;
    let (a, b) = (org(s, "a").await, org(s, "b").await);
    let secret = s
        .create_secret(a, alibaba("creds"), &key(1), at(1))
        .await
        .expect("create");
    let mut generic = alibaba("other");
    generic.kind = SecretType::Generic;
    s.create_secret(a, generic, &key(1), at(1))
        .await
        .expect("generic");
    assert!(matches!(
        s.get_secret(b, &secret.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.reveal_secret(b, &secret.id, &key(1)).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_secret(b, &secret.id).await,
        Err(Error::NotFound { .. })
    ));
    // The same name is free in another organisation.
    s.create_secret(b, alibaba("creds"), &key(1), at(1))
        .await
        .expect("same name in b");
    assert_eq!(s.list_secrets(a, None).await.expect("list").len(), 2);
    let only: Vec<_> = s
        .list_secrets(a, Some(SecretType::Alibaba))
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(only, vec!["creds".to_owned()]);
    s.delete_secret(a, &secret.id).await.expect("delete");
    assert!(matches!(
        s.get_secret(a, &secret.id).await,
        Err(Error::NotFound { .. })
    ));
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn no_plain_text(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    for name in ["first", "second", "third"] {
        s.create_secret(o, alibaba(name), &key(1), at(1))
            .await
            .expect("create");
    }
    let secrets: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|n| format!("{KEY_SECRET}-{n}"))
        .collect();
    match db.backend() {
        Backend::Sqlite => {
            // The WAL holds the newest pages until a checkpoint: read both files.
            let path = db.sqlite_path.clone().expect("sqlite path");
            let mut bytes = std::fs::read(&path).expect("read database file");
            bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            assert!(
                contains(&bytes, b"second"),
                "the search finds the secret names, which are stored in clear"
            );
            for secret in &secrets {
                assert!(
                    !contains(&bytes, secret.as_bytes()),
                    "{secret} is in the SQLite file in plain text"
                );
            }
            assert!(
                !contains(&bytes, KEY_ID.as_bytes()),
                "the key id is in the SQLite file"
            );
        }
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT id, name, type, tags, master_key_id, value_nonce, value_ciphertext, key_nonce, wrapped_key
                 FROM secrets",
            )
            .fetch_all(s.pool())
            .await
            .expect("select");
            assert_eq!(rows.len(), 3);
            for row in &rows {
                let mut bytes = Vec::new();
                for text in ["id", "name", "type", "tags", "master_key_id"] {
                    bytes.extend(
                        row.try_get::<String, _>(text)
                            .expect("text column")
                            .into_bytes(),
                    );
                }
                for blob in [
                    "value_nonce",
                    "value_ciphertext",
                    "key_nonce",
                    "wrapped_key",
                ] {
                    bytes.extend(row.try_get::<Vec<u8>, _>(blob).expect("bytea column"));
                }
                for secret in &secrets {
                    assert!(
                        !contains(&bytes, secret.as_bytes()),
                        "{secret} is in a PostgreSQL row"
                    );
                }
                assert!(!contains(&bytes, KEY_ID.as_bytes()));
            }
        }
    }
}

async fn swapped_rows(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let a = s
        .create_secret(o, alibaba("a"), &key(1), at(1))
        .await
        .expect("a");
    let b = s
        .create_secret(o, alibaba("b"), &key(1), at(1))
        .await
        .expect("b");
    // An attacker with write access to the database copies a's sealed values into b's row.
    sqlx::query(
        "UPDATE secrets SET value_nonce = (SELECT value_nonce FROM secrets WHERE id = $1),
                            value_ciphertext = (SELECT value_ciphertext FROM secrets WHERE id = $1),
                            key_nonce = (SELECT key_nonce FROM secrets WHERE id = $1),
                            wrapped_key = (SELECT wrapped_key FROM secrets WHERE id = $1)
         WHERE id = $2",
    )
    .bind(a.id.as_str())
    .bind(b.id.as_str())
    .execute(s.pool())
    .await
    .expect("swap");
    let opened = s.reveal_secret(o, &b.id, &key(1)).await;
    assert!(matches!(opened, Err(Error::Crypto(_))), "{opened:?}");
    assert!(s.reveal_secret(o, &a.id, &key(1)).await.is_ok());
}

async fn update_values(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let meta = s
        .create_secret(o, alibaba("a"), &key(1), at(1))
        .await
        .expect("a");
    let new_values = SecretValues::from_plain([
        ("ALIBABA_ACCESS_KEY_ID", "LTAInew".to_owned()),
        ("ALIBABA_ACCESS_KEY_SECRET", "rotated".to_owned()),
    ]);
    let updated = s
        .update_secret_values(
            o,
            &meta.id,
            new_values.clone(),
            meta.revision,
            &key(1),
            at(2),
        )
        .await
        .expect("update");
    assert_eq!(updated.revision, 2);
    let (_, values) = s.reveal_secret(o, &meta.id, &key(1)).await.expect("reveal");
    assert_eq!(
        values
            .get("ALIBABA_ACCESS_KEY_SECRET")
            .map(|v| v.expose_secret().to_owned())
            .as_deref(),
        Some("rotated")
    );
    let stale = s
        .update_secret_values(o, &meta.id, new_values, meta.revision, &key(1), at(3))
        .await;
    assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");
    let invalid = s
        .update_secret_values(o, &meta.id, SecretValues::new(), 2, &key(1), at(3))
        .await;
    assert!(matches!(invalid, Err(Error::Invalid { .. })), "{invalid:?}");
}

async fn rotation(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(
            s.create_secret(o, alibaba(name), &key(1), at(1))
                .await
                .expect("create")
                .id,
        );
    }
    assert_eq!(
        s.rotate_master_key(&key(1), &key(2), at(5))
            .await
            .expect("rotate"),
        3
    );
    for id in &ids {
        let (meta, values) = s
            .reveal_secret(o, id, &key(2))
            .await
            .expect("reveal with the new key");
        assert_eq!(meta.master_key_id, key(2).id());
        assert_eq!(values.len(), 2);
        assert!(matches!(
            s.reveal_secret(o, id, &key(1)).await,
            Err(Error::Crypto(_))
        ));
    }
    // Running it again (say, after a crash right after commit) has nothing left to do.
    assert_eq!(
        s.rotate_master_key(&key(1), &key(2), at(6))
            .await
            .expect("rotate again"),
        0
    );
}

async fn failed_rotation(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    for name in ["a", "b", "c", "d"] {
        s.create_secret(o, alibaba(name), &key(1), at(1))
            .await
            .expect("create");
    }
    s.create_secret(o, alibaba("stray"), &key(3), at(1))
        .await
        .expect("secret under a third key");
    let err = s.rotate_master_key(&key(1), &key(2), at(5)).await;
    assert!(
        matches!(err, Err(Error::Crypto(ref m)) if m.contains("neither the old key")),
        "{err:?}"
    );
    let keys: Vec<String> = s
        .list_secrets(o, None)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.master_key_id)
        .collect();
    assert_eq!(
        keys.iter().filter(|k| *k == key(1).id()).count(),
        4,
        "no secret moved: {keys:?}"
    );
    assert_eq!(keys.iter().filter(|k| *k == key(2).id()).count(), 0);
}
