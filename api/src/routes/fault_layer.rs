//! The public router's fault-injection layer (tests only): it delays and fails API
//! requests as the [`FaultInjector`] says. See [`crate::fault`].

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    response::{IntoResponse as _, Response},
};
use tower::{Layer, Service};

use crate::{fault::FaultInjector, problem::ApiError, route_templates};

/// Only the API's operations are disturbed; the OpenAPI document stays reachable so a
/// fuzzer or client generator can still read the contract.
fn applies_to(path: &str) -> bool {
    path.starts_with(route_templates::API_PREFIX) && path != route_templates::OPENAPI
}

/// Wraps the public router with the injector.
#[derive(Clone)]
pub struct FaultLayer {
    injector: Arc<FaultInjector>,
}

impl FaultLayer {
    pub fn new(injector: Arc<FaultInjector>) -> FaultLayer {
        FaultLayer { injector }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> FaultService<S> {
        FaultService {
            inner,
            injector: self.injector.clone(),
        }
    }
}

/// See [`FaultLayer`]. Its future is boxed: it only exists in test deployments.
#[derive(Clone)]
pub struct FaultService<S> {
    inner: S,
    injector: Arc<FaultInjector>,
}

impl<S> Service<Request> for FaultService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !applies_to(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let injector = self.injector.clone();
        Box::pin(async move {
            let latency = injector.latency();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            if injector.selects_error() {
                return Ok(ApiError::InjectedFault.into_response());
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_api_operations_are_disturbed() {
        assert!(applies_to("/api/v1/tasks"));
        assert!(applies_to("/api/v1/tasks/0190"));
        assert!(!applies_to("/api/v1/openapi.json"));
        assert!(!applies_to("/wp-login.php"));
    }
}
