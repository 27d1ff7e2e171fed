//! Where tasks are stored: PostgreSQL in production, SQLite embedded.
//!
//! Both backends run the same SQL text: [`on_pool!`] expands one block once per backend, so
//! each query is written once and still compiled against the concrete driver (no `Any`
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

/// A connection pool to one of the supported backends. Not `Debug`: the pool options hold
/// the database password.
#[derive(Clone)]
pub enum Database {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$db` is.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Database::Postgres($pool) => $body,
            $crate::store::Database::Sqlite($pool) => $body,
        }
    };
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
    /// A pool that connects lazily: a database that is down at start does not stop the
    /// service, requests fail fast with 503 until it is back.
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
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                // An embedded file cannot drop a connection; a ping per request would be waste.
                .test_before_acquire(false)
                .connect_lazy_with(options);
            Ok(Database::Sqlite(pool))
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
            Database::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await,
        }
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// Connections (in use, idle, maximum) for the pool gauges.
    pub fn pool_usage(&self) -> (u32, u32, u32) {
        on_pool!(self, |pool| {
            let size = pool.size();
            let idle = pool.num_idle() as u32;
            (
                size.saturating_sub(idle),
                idle,
                pool.options().get_max_connections(),
            )
        })
    }
}
