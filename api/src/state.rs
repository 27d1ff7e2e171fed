//! What every handler can reach: the application state axum hands to extractors and
//! handlers. It sits below `startup` (which builds it) and `routes` (which read it), so
//! neither reaches back up into the other; extractors that need one part of it, such as
//! the request's owner (`routes/owner.rs`), ask for that part through [`FromRef`].

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::extract::FromRef;

use crate::{
    auth::Authenticator, fault::FaultInjector, store::TaskStore, telemetry::metrics::Metrics,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: TaskStore,
    pub authenticator: Arc<Authenticator>,
    pub readiness: Arc<Readiness>,
    pub metrics: Arc<Metrics>,
    /// `None` unless fault injection is enabled (tests only).
    pub fault: Option<Arc<FaultInjector>>,
}

impl FromRef<AppState> for Arc<Authenticator> {
    fn from_ref(state: &AppState) -> Self {
        state.authenticator.clone()
    }
}

/// Whether this instance should receive traffic.
#[derive(Default)]
pub struct Readiness {
    migrated: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
    /// The schema exists: requests may reach the tables.
    pub fn mark_migrated(&self) {
        self.migrated.store(true, Ordering::Release);
    }
    /// Shutdown began: readiness answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}
