//! The OpenAPI 3.1 document, generated from the handlers' annotations and the DTO types, so
//! it cannot drift from the code.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::tasks;
use crate::{domain::FieldError, problem::Problem};

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
