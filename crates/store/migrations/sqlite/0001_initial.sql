-- The control plane's schema on SQLite. Kept column-for-column equal to
-- ../postgres/0001_initial.sql: the store runs one set of SQL statements on both.
-- Times are milliseconds since the Unix epoch (BIGINT); JSON is TEXT; every aggregate has a
-- revision for compare-and-swap updates.

CREATE TABLE organizations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    created_at_ms BIGINT  NOT NULL,
    updated_at_ms BIGINT  NOT NULL,
    revision      BIGINT  NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL UNIQUE,
    created_at_ms BIGINT  NOT NULL,
    updated_at_ms BIGINT  NOT NULL,
    revision      BIGINT  NOT NULL
);

CREATE TABLE memberships (
    org_id        BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    token_sha256    TEXT   NOT NULL UNIQUE,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT,
    expires_at_ms   BIGINT,
    revoked_at_ms   BIGINT,
    revision        BIGINT NOT NULL
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE secrets (
    id               TEXT   PRIMARY KEY,
    org_id           BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT   NOT NULL,
    type             TEXT   NOT NULL,
    tags             TEXT   NOT NULL,
    value_nonce      BLOB   NOT NULL,
    value_ciphertext BLOB   NOT NULL,
    key_nonce        BLOB   NOT NULL,
    wrapped_key      BLOB   NOT NULL,
    master_key_id    TEXT   NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL,
    revision         BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE clusters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id           BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT   NOT NULL,
    cloud            TEXT   NOT NULL,
    location         TEXT   NOT NULL,
    secret_id        TEXT,
    spec             TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    status_message   TEXT   NOT NULL,
    cloud_cluster_id TEXT,
    cloud_ids        TEXT   NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL,
    revision         BIGINT NOT NULL
);
-- A deleted cluster's name may be used again.
CREATE UNIQUE INDEX clusters_live_name ON clusters (org_id, name) WHERE status <> 'DELETED';
CREATE INDEX clusters_by_org ON clusters (org_id, id);
CREATE INDEX clusters_by_secret ON clusters (secret_id);

CREATE TABLE node_pools (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id    BIGINT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    spec          TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    cloud_ids     TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    UNIQUE (cluster_id, name)
);

CREATE TABLE cluster_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id   BIGINT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    operation_id BIGINT,
    at_ms        BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    message      TEXT   NOT NULL,
    data         TEXT   NOT NULL
);
CREATE INDEX cluster_events_by_cluster ON cluster_events (cluster_id, id);

CREATE TABLE operations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster_id     BIGINT REFERENCES clusters (id) ON DELETE CASCADE,
    kind           TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    step           TEXT   NOT NULL,
    attempts       BIGINT NOT NULL,
    last_error     TEXT,
    status         TEXT   NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    lease_owner    TEXT,
    lease_until_ms BIGINT,
    not_before_ms  BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    revision       BIGINT NOT NULL
);
-- claim_next scans only unfinished operations.
CREATE INDEX operations_runnable ON operations (id) WHERE status IN ('pending', 'running');
CREATE INDEX operations_by_cluster ON operations (cluster_id, id);
