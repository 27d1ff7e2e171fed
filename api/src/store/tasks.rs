//! The `tasks` table: every query is scoped to one owner, so one owner's tasks are
//! invisible to every other owner at the lowest layer.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use tracing::Instrument as _;
use uuid::Uuid;

use super::{Access, Database, POSTGRES_POOL, StoreError};
use crate::{
    domain::{
        Keyset, OwnerId, Page, SortDirection, SortKey, Task, TaskDescription, TaskPriority,
        TaskQuery, TaskStatus, TaskTitle,
    },
    telemetry::metrics::{DbLabels, Metrics},
};

/// Operations slower than this are logged at WARN.
const SLOW_OPERATION: Duration = Duration::from_secs(1);

/// Runs `$body` with `$conn` bound to a connection of the pool that serves `$operation` on
/// whichever backend the store uses, inside a client span, recording the pool wait and the
/// operation's duration. The body is compiled once per backend.
macro_rules! with_conn {
    ($store:expr, $operation:expr, |$conn:ident| $body:expr) => {{
        let operation: Operation = $operation;
        // Boxed, because every move of an unboxed future up the handler's chain is a memcpy
        // of its size; each backend's work on its own, because boxing copies the whole
        // future, used or not. One future for both would be ~14 KiB (PostgreSQL's query
        // futures), and every SQLite operation would copy 14 KiB to use ~1 KiB: ~9% of its
        // requests/s.
        let work: Pin<Box<dyn Future<Output = Result<_, sqlx::Error>> + Send + '_>> =
            match &$store.db {
                Database::Postgres(pool) => Box::pin(async {
                    let mut connection = $store.acquire(pool, POSTGRES_POOL).await?;
                    let $conn = &mut *connection;
                    $body
                }),
                Database::Sqlite(pools) => Box::pin(async {
                    let (pool, name) = pools.serving(operation.access());
                    let mut connection = $store.acquire(pool, name).await?;
                    let $conn = &mut *connection;
                    $body
                }),
            };
        $store.observe(operation.name(), work).await
    }};
}

/// A database operation: its `db.operation.name`, and whether it writes, which picks its
/// pool on SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Select,
    Insert,
    Update,
    Delete,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Select => "SELECT",
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }

    fn access(self) -> Access {
        match self {
            Operation::Select => Access::Read,
            Operation::Insert | Operation::Update | Operation::Delete => Access::Write,
        }
    }
}

/// The selected columns, as a macro so queries can be `&'static str` built with `concat!`.
macro_rules! columns {
    () => {
        "id, title, description, status, priority, due_at, created_at, updated_at, version"
    };
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    title: String,
    description: String,
    status: String,
    priority: String,
    due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        let invalid = |what: &str| StoreError::InvalidRow(format!("task {}: {what}", row.id));
        Ok(Task {
            id: row.id,
            title: TaskTitle::parse(row.title.clone()).map_err(|e| invalid(&e.detail))?,
            description: TaskDescription::parse(row.description.clone())
                .map_err(|e| invalid(&e.detail))?,
            status: TaskStatus::parse(&row.status).ok_or_else(|| invalid("unknown status"))?,
            priority: TaskPriority::parse(&row.priority)
                .ok_or_else(|| invalid("unknown priority"))?,
            due_at: row.due_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// The result of a conditional update.
#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    /// The row exists but its version is no longer the expected one.
    VersionMismatch,
    NotFound,
}

/// The result of a delete, conditional on a version when one is given.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The row exists but its version is no longer the expected one.
    VersionMismatch,
    NotFound,
}

/// Queries on the `tasks` table.
#[derive(Clone)]
pub struct TaskStore {
    db: Database,
    metrics: Arc<Metrics>,
}

impl TaskStore {
    pub fn new(db: Database, metrics: Arc<Metrics>) -> Self {
        Self { db, metrics }
    }

    /// Runs one database operation inside a client span named `{operation} tasks`, records
    /// its duration, and logs it (DEBUG; WARN when slower than [`SLOW_OPERATION`]). These
    /// log lines replace sqlx's own statement logs, which SQLite emits from its worker thread,
    /// outside the request's correlation ids.
    async fn observe<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        let system = self.db.system_name();
        let started = Instant::now();
        let span = if self.metrics.recording {
            tracing::info_span!(
                target: "task_api::db",
                "db",
                otel.name = %format_args!("{operation} tasks"),
                otel.kind = "client",
                db.system.name = system,
                db.operation.name = operation,
                db.collection.name = "tasks",
            )
        } else {
            tracing::Span::none()
        };
        // Disabled (traces not exported): nothing to enter on every poll.
        let result = if span.is_disabled() {
            work.await
        } else {
            work.instrument(span).await
        };
        let elapsed = started.elapsed();
        if self.metrics.recording {
            let labels = DbLabels {
                db_system_name: system,
                db_operation_name: operation,
                db_collection_name: "tasks",
            };
            self.metrics
                .observe_db_operation(&labels, elapsed.as_secs_f64());
        }
        if elapsed >= SLOW_OPERATION {
            tracing::event!(
                target: "task_api::db",
                tracing::Level::WARN,
                db.system.name = system,
                db.operation.name = operation,
                duration_seconds = elapsed.as_secs_f64(),
                "slow database operation"
            );
        } else {
            tracing::event!(
                target: "task_api::db",
                tracing::Level::DEBUG,
                db.system.name = system,
                db.operation.name = operation,
                duration_seconds = elapsed.as_secs_f64(),
                "database operation"
            );
        }
        result.map_err(StoreError::from)
    }

    /// A connection from `pool` (named `pool_name`), recording how long the pool made us wait.
    async fn acquire<DB: sqlx::Database>(
        &self,
        pool: &sqlx::Pool<DB>,
        pool_name: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
        let waiting = Instant::now();
        let connection = pool.acquire().await?;
        self.metrics.observe_pool_wait(
            self.db.system_name(),
            pool_name,
            waiting.elapsed().as_secs_f64(),
        );
        Ok(connection)
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub async fn insert(&self, owner: &OwnerId, task: &Task) -> Result<(), StoreError> {
        let sql = "INSERT INTO tasks (id, owner, title, description, status, priority, due_at, created_at, \
                   updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        with_conn!(self, Operation::Insert, |conn| sqlx::query(sql)
            .bind(task.id)
            .bind(owner.as_str())
            .bind(task.title.as_str())
            .bind(task.description.as_str())
            .bind(task.status.as_str())
            .bind(task.priority.as_str())
            .bind(task.due_at)
            .bind(task.created_at)
            .bind(task.updated_at)
            .bind(task.version)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn get(&self, owner: &OwnerId, id: Uuid) -> Result<Option<Task>, StoreError> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM tasks WHERE id = $1 AND owner = $2"
        );
        let row = with_conn!(self, Operation::Select, |conn| {
            sqlx::query_as::<_, TaskRow>(sql)
                .bind(id)
                .bind(owner.as_str())
                .fetch_optional(conn)
                .await
        })?;
        row.map(Task::try_from).transpose()
    }

    /// One page of the owner's tasks in the query's order, starting after `query.after`.
    pub async fn page(&self, owner: &OwnerId, query: &TaskQuery) -> Result<Page, StoreError> {
        let page_size = query.limit as usize;
        // One extra row tells whether a next page exists without a COUNT.
        let mut tasks = self.list(owner, query, query.limit + 1).await?;
        let next = if tasks.len() > page_size {
            tasks.truncate(page_size);
            tasks.last().map(|last| Keyset::of(last, query.sort))
        } else {
            None
        };
        Ok(Page { tasks, next })
    }

    /// Up to `limit` of the owner's tasks in the query's order, after `query.after`.
    async fn list(
        &self,
        owner: &OwnerId,
        query: &TaskQuery,
        limit: u32,
    ) -> Result<Vec<Task>, StoreError> {
        let plan = ListPlan::new(query);
        let rows = with_conn!(self, Operation::Select, |conn| {
            // The plan is assembled from fixed fragments only; every value is a bind parameter.
            let mut q = sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(plan.sql.as_str()))
                .bind(owner.as_str());
            if let Some(status) = query.status {
                q = q.bind(status.as_str());
            }
            if let Some(priority) = query.priority {
                q = q.bind(priority.as_str());
            }
            if let Some(after) = &query.after {
                if let Some(value) = after.value {
                    q = q.bind(value);
                }
                q = q.bind(after.id);
            }
            q.bind(i64::from(limit)).fetch_all(conn).await
        })?;
        rows.into_iter().map(Task::try_from).collect()
    }

    /// Replaces the stored task with `task` if the stored version is still `expected_version`.
    pub async fn update(
        &self,
        owner: &OwnerId,
        task: &Task,
        expected_version: i64,
    ) -> Result<UpdateOutcome, StoreError> {
        let sql = "UPDATE tasks SET title = $1, description = $2, status = $3, priority = $4, due_at = $5, \
                   updated_at = $6, version = $7 WHERE id = $8 AND owner = $9 AND version = $10";
        let result = with_conn!(self, Operation::Update, |conn| sqlx::query(sql)
            .bind(task.title.as_str())
            .bind(task.description.as_str())
            .bind(task.status.as_str())
            .bind(task.priority.as_str())
            .bind(task.due_at)
            .bind(task.updated_at)
            .bind(task.version)
            .bind(task.id)
            .bind(owner.as_str())
            .bind(expected_version)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        self.outcome(owner, task.id, result).await
    }

    /// Deletes the task, only at `expected_version` when one is given.
    pub async fn delete(
        &self,
        owner: &OwnerId,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<DeleteOutcome, StoreError> {
        let affected = match expected_version {
            Some(version) => with_conn!(self, Operation::Delete, |conn| sqlx::query(
                "DELETE FROM tasks WHERE id = $1 AND owner = $2 AND version = $3"
            )
            .bind(id)
            .bind(owner.as_str())
            .bind(version)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?,
            None => with_conn!(self, Operation::Delete, |conn| sqlx::query(
                "DELETE FROM tasks WHERE id = $1 AND owner = $2"
            )
            .bind(id)
            .bind(owner.as_str())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?,
        };
        Ok(match self.outcome(owner, id, affected).await? {
            UpdateOutcome::Updated => DeleteOutcome::Deleted,
            UpdateOutcome::VersionMismatch => DeleteOutcome::VersionMismatch,
            UpdateOutcome::NotFound => DeleteOutcome::NotFound,
        })
    }

    /// Tells a lost race from a missing row after a conditional write touched `affected` rows.
    async fn outcome(
        &self,
        owner: &OwnerId,
        id: Uuid,
        affected: u64,
    ) -> Result<UpdateOutcome, StoreError> {
        if affected > 0 {
            return Ok(UpdateOutcome::Updated);
        }
        Ok(match self.get(owner, id).await? {
            Some(_) => UpdateOutcome::VersionMismatch,
            None => UpdateOutcome::NotFound,
        })
    }

    /// Tasks per status across all owners, for the business gauges.
    pub async fn count_by_status(&self) -> Result<Vec<(TaskStatus, i64)>, StoreError> {
        let rows = with_conn!(self, Operation::Select, |conn| sqlx::query_as::<
            _,
            (String, i64),
        >(
            "SELECT status, COUNT(*) FROM tasks GROUP BY status"
        )
        .fetch_all(conn)
        .await)?;
        Ok(rows
            .into_iter()
            .filter_map(|(status, n)| TaskStatus::parse(&status).map(|s| (s, n)))
            .collect())
    }
}

/// The SQL of one list query. Placeholders are numbered in the order `list` binds them:
/// owner, status?, priority?, keyset value?, keyset id?, limit.
struct ListPlan {
    sql: String,
}

impl ListPlan {
    fn new(query: &TaskQuery) -> Self {
        let mut next = 2;
        let mut placeholder = || {
            let p = format!("${next}");
            next += 1;
            p
        };
        let mut sql = concat!("SELECT ", columns!(), " FROM tasks WHERE owner = $1").to_owned();
        if query.status.is_some() {
            sql.push_str(&format!(" AND status = {}", placeholder()));
        }
        if query.priority.is_some() {
            sql.push_str(&format!(" AND priority = {}", placeholder()));
        }
        let (column, nullable) = match query.sort {
            SortKey::CreatedAt => ("created_at", false),
            SortKey::DueAt => ("due_at", true),
        };
        let (cmp, dir) = match query.direction {
            SortDirection::Ascending => (">", "ASC"),
            SortDirection::Descending => ("<", "DESC"),
        };
        if let Some(Keyset { value, .. }) = &query.after {
            let condition = match value {
                Some(_) => {
                    let v = placeholder();
                    let id = placeholder();
                    let after =
                        format!("({column} {cmp} {v} OR ({column} = {v} AND id {cmp} {id}))");
                    // Rows without a due date sort after every dated row.
                    if nullable {
                        format!("({after} OR {column} IS NULL)")
                    } else {
                        after
                    }
                }
                None => format!("({column} IS NULL AND id {cmp} {})", placeholder()),
            };
            sql.push_str(&format!(" AND {condition}"));
        }
        let nulls = if nullable { " NULLS LAST" } else { "" };
        sql.push_str(&format!(
            " ORDER BY {column} {dir}{nulls}, id {dir} LIMIT {}",
            placeholder()
        ));
        Self { sql }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sort: SortKey, direction: SortDirection, after: Option<Keyset>) -> TaskQuery {
        TaskQuery {
            status: Some(TaskStatus::Todo),
            priority: None,
            sort,
            direction,
            limit: 10,
            after,
        }
    }

    #[test]
    fn placeholders_follow_the_bind_order() {
        let after = Keyset {
            value: Some(Utc::now()),
            id: Uuid::nil(),
        };
        let plan = ListPlan::new(&query(
            SortKey::DueAt,
            SortDirection::Descending,
            Some(after),
        ));
        assert_eq!(
            plan.sql,
            format!(
                "SELECT {} FROM tasks WHERE owner = $1 AND status = $2 AND \
                 ((due_at < $3 OR (due_at = $3 AND id < $4)) OR due_at IS NULL) \
                 ORDER BY due_at DESC NULLS LAST, id DESC LIMIT $5",
                columns!()
            )
        );
    }

    #[test]
    fn a_cursor_inside_the_undated_tail_stays_there() {
        let after = Keyset {
            value: None,
            id: Uuid::nil(),
        };
        let plan = ListPlan::new(&query(
            SortKey::DueAt,
            SortDirection::Ascending,
            Some(after),
        ));
        assert!(
            plan.sql.contains("AND (due_at IS NULL AND id > $3)"),
            "{}",
            plan.sql
        );
        assert!(plan.sql.ends_with("LIMIT $4"), "{}", plan.sql);
    }
}
