//! The public route templates, declared once. The router registers them, the telemetry
//! layer matches paths against them for `http.route`, and fault injection tells API
//! operations from the OpenAPI document by them. They live below all three so none of
//! them imports another for a string.

/// The task collection: list and create.
pub const TASKS: &str = "/api/v1/tasks";
/// One task: read, change, delete.
pub const TASK: &str = "/api/v1/tasks/{id}";
/// The OpenAPI document of the public listener.
pub const OPENAPI: &str = "/api/v1/openapi.json";

/// Every template the public router serves; any other path is unmatched.
pub const ALL: [&str; 3] = [TASKS, TASK, OPENAPI];

/// The prefix of every public route.
pub const API_PREFIX: &str = "/api/v1/";
