//! Organisations, users, roles and API tokens.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use store::{Error, OrgId, Role, Store, TokenId};

use crate::harness::{TestDb, at};
use crate::on_both_backends;

on_both_backends! {
    the_first_organization_gets_id_1_and_names_are_unique => first_org_and_unique_names;
    renaming_with_a_stale_revision_is_a_conflict => stale_rename;
    roles_are_per_organization_and_changed_by_compare_and_swap => roles;
    a_token_authenticates_until_it_is_revoked_or_expires => token_lifecycle;
    only_the_hash_of_a_token_is_stored => token_hash_only;
    an_operator_chosen_token_must_be_long_enough => imported_tokens;
}

async fn first_org_and_unique_names(db: Arc<TestDb>) {
    let s = &db.store;
    assert!(s.is_empty().await.expect("is_empty"));
    let org = s.create_org("default", at(0)).await.expect("create org");
    assert_eq!(org.id, OrgId(1));
    assert_eq!(org.revision, 1);
    assert!(!s.is_empty().await.expect("is_empty"));
    let dup = s.create_org("default", at(1)).await;
    assert!(matches!(dup, Err(Error::Conflict { .. })), "{dup:?}");
    let err = s.create_org("  ", at(1)).await;
    assert!(
        matches!(err, Err(Error::Invalid { ref field, .. }) if field == "name"),
        "{err:?}"
    );
    assert_eq!(s.get_org(org.id).await.expect("get"), org);
    assert!(matches!(
        s.get_org(OrgId(99)).await,
        Err(Error::NotFound { .. })
    ));
}

async fn stale_rename(db: Arc<TestDb>) {
    let s = &db.store;
    let org = s.create_org("acme", at(0)).await.expect("create");
    let renamed = s
        .rename_org(org.id, "acme2", org.revision, at(5))
        .await
        .expect("rename");
    assert_eq!((renamed.name.as_str(), renamed.revision), ("acme2", 2));
    assert_eq!(renamed.updated_at, at(5));
    let stale = s.rename_org(org.id, "acme3", org.revision, at(6)).await;
    match stale {
        Err(Error::Conflict { what }) => assert!(what.contains("revision 2, not 1"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.get_org(org.id).await.expect("get").name, "acme2");
}

async fn roles(db: Arc<TestDb>) {
    let s = &db.store;
    let a = s.create_org("a", at(0)).await.expect("org a");
    let b = s.create_org("b", at(0)).await.expect("org b");
    let alice = s.create_user("alice", at(0)).await.expect("alice");
    let m = s
        .add_member(a.id, alice.id, Role::Admin, at(1))
        .await
        .expect("member");
    s.add_member(b.id, alice.id, Role::Member, at(1))
        .await
        .expect("member of b");
    assert!(matches!(
        s.add_member(a.id, alice.id, Role::Member, at(2)).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        s.membership(a.id, alice.id).await.expect("role").role,
        Role::Admin
    );
    let bob = s.create_user("bob", at(0)).await.expect("bob");
    assert!(matches!(
        s.membership(a.id, bob.id).await,
        Err(Error::NotFound { .. })
    ));
    let demoted = s
        .set_role(a.id, alice.id, Role::Member, m.revision, at(3))
        .await
        .expect("demote");
    assert_eq!((demoted.role, demoted.revision), (Role::Member, 2));
    assert!(matches!(
        s.set_role(a.id, alice.id, Role::Admin, m.revision, at(4))
            .await,
        Err(Error::Conflict { .. })
    ));
    let orgs: Vec<_> = s
        .memberships_of(alice.id)
        .await
        .expect("memberships")
        .iter()
        .map(|m| m.org_id)
        .collect();
    assert_eq!(orgs, vec![a.id, b.id]);
    assert_eq!(s.members(b.id).await.expect("members").len(), 1);
}

async fn token_lifecycle(db: Arc<TestDb>) {
    let s = &db.store;
    let user = s.create_user("admin", at(0)).await.expect("user");
    let (token, value) = s
        .create_token(user.id, "ci", None, at(0))
        .await
        .expect("token");
    assert!(value.expose_secret().starts_with("ackctl_"));
    assert_eq!(value.expose_secret().len(), "ackctl_".len() + 43);
    assert_eq!(token.last_used_at, None);

    let who = s
        .authenticate(value.expose_secret(), at(10))
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!((who.user.id, who.token.id), (user.id, token.id));
    assert_eq!(who.token.last_used_at, Some(at(10)));
    // Within a minute the use is not written again; after it, it is.
    s.authenticate(value.expose_secret(), at(30))
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(
        s.get_token(token.id).await.expect("get").last_used_at,
        Some(at(10))
    );
    s.authenticate(value.expose_secret(), at(75))
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(
        s.get_token(token.id).await.expect("get").last_used_at,
        Some(at(75))
    );

    assert_eq!(
        s.authenticate("ackctl_not-a-token", at(80))
            .await
            .expect("auth"),
        None
    );
    let revoked = s
        .revoke_token(user.id, token.id, at(90))
        .await
        .expect("revoke");
    assert_eq!(revoked.revoked_at, Some(at(90)));
    assert_eq!(
        s.authenticate(value.expose_secret(), at(91))
            .await
            .expect("auth"),
        None
    );
    let again = s
        .revoke_token(user.id, token.id, at(95))
        .await
        .expect("revoke again");
    assert_eq!(again.revoked_at, Some(at(90)));
    let other = s.create_user("other", at(0)).await.expect("other");
    assert!(matches!(
        s.revoke_token(other.id, token.id, at(96)).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.get_token(TokenId(999)).await,
        Err(Error::NotFound { .. })
    ));

    let (_, short_lived) = s
        .create_token(user.id, "short", Some(at(100)), at(0))
        .await
        .expect("token");
    assert!(
        s.authenticate(short_lived.expose_secret(), at(99))
            .await
            .expect("auth")
            .is_some()
    );
    assert_eq!(
        s.authenticate(short_lived.expose_secret(), at(100))
            .await
            .expect("auth"),
        None
    );
    assert_eq!(s.list_tokens(user.id).await.expect("list").len(), 2);
}

async fn token_hash_only(db: Arc<TestDb>) {
    let s: &Store = &db.store;
    let user = s.create_user("admin", at(0)).await.expect("user");
    let (_, value) = s
        .create_token(user.id, "ci", None, at(0))
        .await
        .expect("token");
    let rows = sqlx::query("SELECT token_sha256, name FROM api_tokens")
        .fetch_all(s.pool())
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("token_sha256").expect("column");
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(value.expose_secret()) && !value.expose_secret().contains(&stored));
}

async fn imported_tokens(db: Arc<TestDb>) {
    let s = &db.store;
    let user = s.create_user("admin", at(0)).await.expect("user");
    let short = SecretString::from("too-short".to_owned());
    let err = s
        .import_token(user.id, "bootstrap", &short, None, at(0))
        .await;
    assert!(
        matches!(err, Err(Error::Invalid { ref field, .. }) if field == "token"),
        "{err:?}"
    );
    let good = SecretString::from("b".repeat(40));
    s.import_token(user.id, "bootstrap", &good, None, at(0))
        .await
        .expect("import");
    assert!(
        s.authenticate(&"b".repeat(40), at(1))
            .await
            .expect("auth")
            .is_some()
    );
    let twice = s
        .import_token(user.id, "bootstrap", &good, None, at(0))
        .await;
    assert!(matches!(twice, Err(Error::Conflict { .. })), "{twice:?}");
}
