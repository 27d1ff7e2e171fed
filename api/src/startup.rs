//! Builds the application from its settings and runs it until told to stop.
//!
//! `Application::build` binds both listeners (port 0 works, for tests) and returns before
//! serving; `run_until_stopped` serves until the shutdown future resolves, then drains:
//! readiness turns 503 at once, the listener keeps serving for the drain delay (so load
//! balancers notice), then stops accepting, in-flight requests finish within the shutdown
//! timeout, and the pool closes.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{BoxError, error_handling::HandleErrorLayer, extract::DefaultBodyLimit, middleware};
use tokio::{net::TcpListener, sync::watch};
use tower::{Layer as _, ServiceBuilder, util::Either};

use crate::{
    auth::Authenticator,
    config::Settings,
    fault::FaultInjector,
    problem::ApiError,
    request_id,
    routes::{self, fault_layer::FaultLayer},
    state::{AppState, Readiness},
    store::{Database, TaskStore},
    telemetry::{self, metrics::Metrics},
};

/// A built, bound, not yet serving application.
pub struct Application {
    public_listener: TcpListener,
    admin_listener: TcpListener,
    state: AppState,
    settings: Settings,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new(settings.telemetry_enabled));
        let authenticator = Authenticator::from_settings(&settings.auth, metrics.clone())?;
        if authenticator.is_development() {
            tracing::warn!(
                owner = crate::auth::DEVELOPMENT_OWNER,
                "DEVELOPMENT MODE: no AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, AUTH_JWKS_URL or AUTH_OIDC_ISSUER set; authentication is OFF and \
                 every request acts as one owner. Never run this way in production (set AUTH_REQUIRED=true)."
            );
        }
        if let Some(fault) = &settings.fault_injection {
            tracing::warn!(
                error_ratio = fault.error_ratio,
                latency_seconds = fault.latency_seconds,
                "FAULT INJECTION ENABLED: the admin listener's /fault can make /api/v1/* fail or slow \
                 on purpose. For tests only; never in production (unset FAULT_INJECTION_ENABLED)."
            );
        }
        let database =
            Database::connect_lazy(&settings.database).context("DATABASE_URL cannot be used")?;
        let public_listener = bind(settings.listen_addr, "LISTEN_ADDR").await?;
        let admin_listener = bind(settings.admin_listen_addr, "ADMIN_LISTEN_ADDR").await?;
        let state = AppState {
            store: TaskStore::new(database, metrics.clone()),
            authenticator: Arc::new(authenticator),
            readiness: Arc::new(Readiness::default()),
            metrics,
            fault: settings
                .fault_injection
                .map(|fault| Arc::new(FaultInjector::new(fault))),
        };
        Ok(Self {
            public_listener,
            admin_listener,
            state,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.public_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// Serves until `shutdown` resolves, then drains and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            public_listener,
            admin_listener,
            state,
            settings,
        } = self;
        tracing::info!(
            listen_addr = %public_listener.local_addr()?,
            admin_listen_addr = %admin_listener.local_addr()?,
            database = %settings.database.url,
            "task-api serving"
        );
        let database_upkeep = tokio::spawn(maintain_database(
            state.clone(),
            settings.tasks_gauge_interval,
        ));
        let key_refresh = state
            .authenticator
            .jwks()
            .map(|jwks| tokio::spawn(jwks.clone().keep_fresh()));

        let (stop_public, public_stopped) = watch::channel(false);
        let (stop_admin, admin_stopped) = watch::channel(false);
        let public_app = axum::ServiceExt::<axum::extract::Request>::into_make_service(
            public_service(&settings, state.clone()),
        );
        let admin_app = routes::admin_router().with_state(state.clone());
        let mut public = tokio::spawn(async move {
            axum::serve(public_listener, public_app)
                .with_graceful_shutdown(changed(public_stopped))
                .await
        });
        let admin = tokio::spawn(async move {
            axum::serve(admin_listener, admin_app)
                .with_graceful_shutdown(changed(admin_stopped))
                .await
        });

        tokio::select! {
            () = shutdown => {}
            result = &mut public => {
                database_upkeep.abort();
                key_refresh.iter().for_each(|task| task.abort());
                return Err(anyhow::anyhow!("public listener stopped unexpectedly: {result:?}"));
            }
        }

        state.readiness.start_draining();
        tracing::info!(drain_delay = ?settings.shutdown.drain_delay, "shutdown requested: readiness is now 503, draining");
        tokio::time::sleep(settings.shutdown.drain_delay).await;

        let _ = stop_public.send(true);
        match tokio::time::timeout(settings.shutdown.timeout, &mut public).await {
            Ok(result) => result
                .context("public listener task")?
                .context("public listener")?,
            Err(_) => {
                tracing::warn!(timeout = ?settings.shutdown.timeout, "in-flight requests did not finish in time");
                public.abort();
            }
        }
        let _ = stop_admin.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), admin).await;
        database_upkeep.abort();
        key_refresh.iter().for_each(|task| task.abort());
        state.store.database().close().await;
        tracing::info!("task-api stopped");
        Ok(())
    }
}

async fn bind(addr: SocketAddr, variable: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {variable}={addr}"))
}

async fn changed(mut receiver: watch::Receiver<bool>) {
    let _ = receiver.wait_for(|stop| *stop).await;
}

/// The public router with its layers. Outermost first: the request id and telemetry (so
/// every response, even a shed one, carries the id, and shed and timed-out requests are
/// counted and logged too), fault injection when enabled, the readiness gate, load shedding with a global concurrency
/// limit, the request timeout, the body size limit.
fn public_service(
    settings: &Settings,
    state: AppState,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    let protection = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error: BoxError| async move {
            if error.is::<tower::timeout::error::Elapsed>() {
                ApiError::Timeout
            } else if error.is::<tower::load_shed::error::Overloaded>() {
                ApiError::Overloaded
            } else {
                ApiError::Internal(anyhow::anyhow!("middleware failed: {error}"))
            }
        }))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            settings.http.concurrency_limit,
        ))
        .timeout(settings.http.request_timeout);
    let router = routes::api_router()
        .layer(DefaultBodyLimit::max(settings.http.body_limit_bytes))
        .layer(protection)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_migrated,
        ));
    let router = router.with_state(state.clone());
    // Inside the telemetry, so injected failures and latency are measured like real ones.
    let router = match &state.fault {
        Some(injector) => Either::Left(FaultLayer::new(injector.clone()).layer(router)),
        None => Either::Right(router),
    };
    // Around the router, not per route: `Router::layer` would box and clone per request.
    // The telemetry layer gives requests their ids itself.
    let outer = if settings.telemetry_enabled {
        Either::Left(telemetry::http::ObserveLayer::new(state.metrics.clone()))
    } else {
        Either::Right(request_id::RequestIdLayer)
    };
    outer.layer(router)
}

/// Until the schema exists, answer 503 rather than fail on missing tables.
async fn require_migrated(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    if state.readiness.is_migrated() {
        next.run(request).await
    } else {
        axum::response::IntoResponse::into_response(ApiError::NotReady)
    }
}

/// Applies migrations, retrying with backoff while the database is unreachable, so that a
/// database that is down at start delays readiness instead of crashing the process. Then
/// keeps the tasks-by-status gauges fresh: one query per interval, never one per scrape.
async fn maintain_database(state: AppState, gauge_interval: Duration) {
    let mut delay = Duration::from_millis(200);
    loop {
        match state.store.database().migrate().await {
            Ok(()) => {
                state.readiness.mark_migrated();
                tracing::info!(
                    db_system_name = state.store.database().system_name(),
                    "database migrations applied"
                );
                break;
            }
            Err(error) => {
                tracing::warn!(error = %error, retry_in = ?delay, "database migrations failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    let mut ticks = tokio::time::interval(gauge_interval);
    loop {
        ticks.tick().await;
        match state.store.count_by_status().await {
            Ok(counts) => state.metrics.set_tasks_by_status(&counts),
            Err(error) => {
                tracing::warn!(error = %error, "refreshing the tasks-by-status gauge failed")
            }
        }
    }
}
