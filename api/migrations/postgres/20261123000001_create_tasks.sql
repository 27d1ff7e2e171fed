-- Tasks, each owned by the `sub` of the bearer token that created it.
CREATE TABLE tasks (
    id          UUID PRIMARY KEY,
    owner       TEXT        NOT NULL,
    title       TEXT        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
    description TEXT        NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    status      TEXT        NOT NULL CHECK (status IN ('todo', 'in_progress', 'done')),
    priority    TEXT        NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    due_at      TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT      NOT NULL CHECK (version >= 1)
);

-- Every list query is scoped to one owner and ordered by (sort column, id): these indexes
-- serve the keyset scans, with and without a status filter.
CREATE INDEX tasks_owner_created_idx ON tasks (owner, created_at, id);
CREATE INDEX tasks_owner_due_idx ON tasks (owner, due_at, id);
CREATE INDEX tasks_owner_status_created_idx ON tasks (owner, status, created_at, id);
