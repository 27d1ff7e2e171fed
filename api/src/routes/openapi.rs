//! The OpenAPI 3.1 document, generated from the handlers' annotations and the DTO types, so
//! it cannot drift from the code.

use std::collections::BTreeMap;

use axum::Json;
use utoipa::{
    IntoResponses, Modify, OpenApi,
    openapi::{
        ContentBuilder, Ref, RefOr, Response, ResponseBuilder,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use super::tasks;
use crate::{
    domain::FieldError,
    problem::{PROBLEM_JSON, Problem},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Watchpost task API", description = "Tasks owned by the subject of a bearer JWT. Errors are RFC 9457 problem details."),
    paths(tasks::create_task, tasks::list_tasks, tasks::get_task, tasks::update_task, tasks::delete_task),
    components(schemas(tasks::TaskResponse, tasks::CreateTaskRequest, tasks::UpdateTaskRequest, tasks::TaskPage, Problem, FieldError)),
    modifiers(&BearerAuth),
    tags((name = "tasks", description = "Create, read, list, update and delete tasks"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A problem+json response with `description`, its body a [`Problem`].
fn problem_response(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content)
        .build()
        .into()
}

/// Declares groups of problem+json responses, each usable in an operation's `responses(...)`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => [$(($status:literal, $description:literal)),+ $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status, $description)),+]
                    .into_iter()
                    .map(|(status, description): (u16, &str)| {
                        (status.to_string(), problem_response(description))
                    })
                    .collect()
            }
        }
    )*};
}

problem_responses! {
    /// What any authenticated operation may answer.
    EveryOperationProblems => [
        (401, "Missing or invalid token"),
        (503, "Overloaded or database unavailable"),
    ];
    /// What an operation with a JSON request body may answer about the body.
    JsonBodyProblems => [
        (400, "Malformed JSON"),
        (413, "Body too large"),
        (415, "Not JSON"),
        (422, "Invalid fields"),
    ];
    /// A list request with bad query parameters.
    QueryProblems => [(400, "Invalid query parameters")];
    /// An operation on one task that the owner does not have.
    TaskNotFoundProblem => [(404, "No such task for this owner")];
    /// A conditional write whose `If-Match` no longer matches.
    PreconditionProblem => [(412, "If-Match does not match")];
}
