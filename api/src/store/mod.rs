//! Where tasks are stored: PostgreSQL in production, SQLite embedded.
//!
//! Both backends run the same SQL text: `with_conn!` (in `tasks`) expands one block once per
//! backend, so each query is written once and still compiled against the concrete driver (no `Any`
//! driver, which would lose native UUID and timestamp types and cost a conversion layer).

mod tasks;

use std::{str::FromStr, time::Duration};

use log::LevelFilter;
use sqlx::{
    ConnectOptions as _, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use tasks::{DeleteOutcome, TaskStore, UpdateOutcome};

use crate::config::DatabaseSettings;

/// The connection pools of one backend. Not `Debug`: the pool options hold the database
/// password.
#[derive(Clone)]
pub enum Database {
    /// One pool for every operation: PostgreSQL queues concurrent writers on row locks.
    Postgres(PgPool),
    Sqlite(SqlitePools),
}

/// SQLite takes one writer at a time, and a connection that finds the write lock taken does
/// not queue for it: SQLite's busy handler sleeps and retries, 1, 2, 5, 10 … 100 ms apart, so
/// a writer that loses a few races is served 100 ms late for a lock held well under a
/// millisecond. Writes therefore get a small pool of their own
/// ([`SQLITE_WRITE_CONNECTIONS`]), where they queue in the process, and reads a pool of
/// their own beside it (WAL lets them run in parallel with the writer). The read
/// connections are `query_only`, so a write sent to the wrong pool fails instead of quietly
/// competing for the lock again.
#[derive(Clone)]
pub struct SqlitePools {
    reads: SqlitePool,
    writes: SqlitePool,
}

impl SqlitePools {
    /// The pool serving `access`, and its name.
    pub fn serving(&self, access: Access) -> (&SqlitePool, &'static str) {
        match access {
            Access::Read => (&self.reads, SQLITE_READ_POOL),
            Access::Write => (&self.writes, SQLITE_WRITE_POOL),
        }
    }
}

/// Whether an operation only reads or also writes, which picks its pool on SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// `db.client.connection.pool.name` of PostgreSQL's one pool.
pub const POSTGRES_POOL: &str = "tasks";
/// `db.client.connection.pool.name` of SQLite's read pool.
pub const SQLITE_READ_POOL: &str = "tasks_read";
/// `db.client.connection.pool.name` of SQLite's write pool.
pub const SQLITE_WRITE_POOL: &str = "tasks_write";
/// Connections of SQLite's write pool. Few enough that a writer rarely meets more than one
/// other at SQLite's lock (so it rarely sleeps in the busy handler), enough that one
/// writer's hand-offs through sqlx's worker thread overlap another's statement: with one
/// connection every write waits for the previous one's round trip, which costs a quarter
/// to two fifths of the creates a second at saturation (docs/benchmarks.md).
pub const SQLITE_WRITE_CONNECTIONS: u32 = 4;

/// One pool's connections, for the pool gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    pub name: &'static str,
    pub used: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUsage {
    fn of<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> Self {
        let idle = pool.num_idle() as u32;
        PoolUsage {
            name,
            used: pool.size().saturating_sub(idle),
            idle,
            max: pool.options().get_max_connections(),
        }
    }
}

/// Why the store could not do what it was asked; callers map `Unavailable` to 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or has no free connection: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("stored row is invalid: {0}")]
    InvalidRow(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            // PostgreSQL's class 08 (connection exception) and 57P0x (server shutting down).
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")) =>
            {
                StoreError::Unavailable(error)
            }
            other => StoreError::Query(other),
        }
    }
}

impl Database {
    /// The backend's pools, connecting lazily: a database that is down at start does not stop
    /// the service, requests fail fast with 503 until it is back.
    pub fn connect_lazy(settings: &DatabaseSettings) -> Result<Self, sqlx::Error> {
        let url = settings.url.expose();
        if settings.url.is_postgres() {
            // Statement logging is ours (store::tasks), with the request's correlation ids.
            let options = PgConnectOptions::from_str(url)?
                .application_name("task-api")
                .log_statements(LevelFilter::Off)
                .log_slow_statements(LevelFilter::Off, Duration::MAX);
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                // A network database can vanish under an idle connection: check before use.
                .test_before_acquire(true)
                .idle_timeout(Duration::from_secs(300))
                .connect_lazy_with(options);
            Ok(Database::Postgres(pool))
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .log_statements(LevelFilter::Off)
                .log_slow_statements(LevelFilter::Off, Duration::MAX)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL is durable across application crashes, the embedded trade-off.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = |max_connections, options: SqliteConnectOptions| {
                SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    // An embedded file cannot drop a connection; a ping per request would be waste.
                    .test_before_acquire(false)
                    .connect_lazy_with(options)
            };
            Ok(Database::Sqlite(SqlitePools {
                reads: pool(
                    settings.max_connections,
                    options.clone().pragma("query_only", "ON"),
                ),
                writes: pool(SQLITE_WRITE_CONNECTIONS, options),
            }))
        }
    }

    /// `postgresql` or `sqlite`, as the OpenTelemetry `db.system.name` attribute spells it.
    pub fn system_name(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgresql",
            Database::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Database::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
            Database::Sqlite(pools) => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pools.writes)
                    .await
            }
        }
    }

    /// One round trip, for readiness checks: on SQLite through the read pool, which a queue
    /// of writers does not hold up.
    pub async fn ping(&self) -> Result<(), StoreError> {
        const PING: &str = "SELECT 1";
        match self {
            Database::Postgres(pool) => sqlx::query(PING).execute(pool).await.map(|_| ())?,
            Database::Sqlite(pools) => sqlx::query(PING).execute(&pools.reads).await.map(|_| ())?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Database::Postgres(pool) => pool.close().await,
            Database::Sqlite(pools) => {
                tokio::join!(pools.reads.close(), pools.writes.close());
            }
        }
    }

    /// Connections of each pool, for the pool gauges.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        match self {
            Database::Postgres(pool) => vec![PoolUsage::of(POSTGRES_POOL, pool)],
            Database::Sqlite(pools) => vec![
                PoolUsage::of(SQLITE_READ_POOL, &pools.reads),
                PoolUsage::of(SQLITE_WRITE_POOL, &pools.writes),
            ],
        }
    }
}
