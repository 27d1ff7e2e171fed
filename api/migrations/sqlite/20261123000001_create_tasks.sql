-- Tasks, each owned by the `sub` of the bearer token that created it.
-- Same shape as the PostgreSQL schema: ids are 16-byte BLOBs, timestamps RFC 3339 text in UTC
-- at microsecond precision (they sort as text the way they sort as times).
CREATE TABLE tasks (
    id          BLOB    PRIMARY KEY NOT NULL,
    owner       TEXT    NOT NULL,
    title       TEXT    NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    description TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    status      TEXT    NOT NULL CHECK (status IN ('todo', 'in_progress', 'done')),
    priority    TEXT    NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    due_at      TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1)
) WITHOUT ROWID;

CREATE INDEX tasks_owner_created_idx ON tasks (owner, created_at, id);
CREATE INDEX tasks_owner_due_idx ON tasks (owner, due_at, id);
CREATE INDEX tasks_owner_status_created_idx ON tasks (owner, status, created_at, id);
