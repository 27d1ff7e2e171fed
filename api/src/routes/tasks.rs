//! `/api/v1/tasks`: the REST resource. Handlers translate HTTP to domain calls and back;
//! validation lives in the domain types, SQL in the store.

use axum::{
    Json,
    extract::{FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, Ref, RefOr, Required, Schema, SchemaFormat, Type,
        path::{Parameter, ParameterBuilder, ParameterIn},
        schema::SchemaType,
    },
};
use uuid::Uuid;

use super::{
    cursor,
    json::JsonBody,
    openapi::{
        EveryOperationProblems, JsonBodyProblems, PreconditionProblem, QueryProblems,
        TaskNotFoundProblem,
    },
};
use crate::{
    domain::{
        DESCRIPTION_MAX_CHARS, FieldError, MAX_PAGE_SIZE, NewTask, OwnerId, SortDirection, SortKey,
        TITLE_MAX_CHARS, Task, TaskDescription, TaskPatch, TaskPriority, TaskQuery, TaskStatus,
        TaskTitle,
    },
    problem::ApiError,
    route_templates,
    state::AppState,
    store::{DeleteOutcome, UpdateOutcome},
};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Optimistic-concurrency attempts of a PATCH without If-Match before giving up. An attempt
/// fails only when another update of the same task landed after our read, so N concurrent
/// writers of one task need at most N attempts each: this bounds the writers one task can
/// have at once, not a retry budget. Writers queued for SQLite's write pool land back to
/// back, with few busy-handler sleeps to spread them.
const MAX_UPDATE_ATTEMPTS: usize = 32;

/// A task as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskResponse {
    pub id: Uuid,
    /// 1–255 characters.
    pub title: String,
    /// Up to 10,000 characters.
    pub description: String,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    /// RFC 3339; absent when the task has no due date.
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Grows by one on every change; the `ETag` is this number in quotes.
    pub version: i64,
}

impl From<&Task> for TaskResponse {
    fn from(task: &Task) -> Self {
        TaskResponse {
            id: task.id,
            title: task.title.as_str().to_owned(),
            description: task.description.as_str().to_owned(),
            status: task.status,
            priority: task.priority,
            due_at: task.due_at,
            created_at: task.created_at,
            updated_at: task.updated_at,
            version: task.version,
        }
    }
}

/// The schemas of the title and description fields, their bounds those of [`TaskTitle`]
/// and [`TaskDescription`].
fn title_schema() -> ObjectBuilder {
    optional_title_schema()
        .schema_type(Type::String)
        .description(Some("1–255 characters, not blank."))
}

fn optional_title_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
        .min_length(Some(1))
        .max_length(Some(TITLE_MAX_CHARS))
}

fn optional_description_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
        .max_length(Some(DESCRIPTION_MAX_CHARS))
}

fn create_description_schema() -> ObjectBuilder {
    optional_description_schema().description(Some("Up to 10,000 characters; empty when absent."))
}

/// The body of `POST /api/v1/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1–255 characters, not blank.
    #[schema(schema_with = title_schema)]
    pub title: String,
    /// Up to 10,000 characters; empty when absent.
    #[serde(default)]
    #[schema(schema_with = create_description_schema)]
    pub description: Option<String>,
    /// `todo` when absent.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// `medium` when absent.
    #[serde(default)]
    pub priority: Option<TaskPriority>,
    /// RFC 3339 date-time.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

impl TryFrom<CreateTaskRequest> for NewTask {
    type Error = ApiError;

    fn try_from(request: CreateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let title = TaskTitle::parse(request.title)
            .map_err(|e| errors.push(e))
            .ok();
        let description = TaskDescription::parse(request.description.unwrap_or_default())
            .map_err(|e| errors.push(e))
            .ok();
        match (title, description) {
            (Some(title), Some(description)) => Ok(NewTask {
                title,
                description,
                status: request.status.unwrap_or_default(),
                priority: request.priority.unwrap_or_default(),
                due_at: request.due_at,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// The body of `PATCH /api/v1/tasks/{id}`: fields present are changed, others kept;
/// `"due_at": null` removes the due date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskRequest {
    #[serde(default)]
    #[schema(schema_with = optional_title_schema)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(schema_with = optional_description_schema)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub priority: Option<TaskPriority>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Option<Option<DateTime<Utc>>>,
}

/// Tells `"field": null` (Some(None)) from an absent field (None, via `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl TryFrom<UpdateTaskRequest> for TaskPatch {
    type Error = ApiError;

    fn try_from(request: UpdateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let title = request
            .title
            .map(TaskTitle::parse)
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let description = request
            .description
            .map(TaskDescription::parse)
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(TaskPatch {
            title,
            description,
            status: request.status,
            priority: request.priority,
            due_at: request.due_at,
        })
    }
}

/// One page of tasks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next: Option<String>,
}

/// The query parameters of `GET /api/v1/tasks`, as the OpenAPI document shows them.
/// [`parse_list_query`] reads them in the order given, so each bad one gets its own error.
pub struct ListParams;

impl IntoParams for ListParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let query = |name: &str, description: String, schema: RefOr<Schema>| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        let string = || ObjectBuilder::new().schema_type(Type::String);
        vec![
            query(
                "status",
                "Only tasks with this status.".to_owned(),
                Ref::from_schema_name("TaskStatus").into(),
            ),
            query(
                "priority",
                "Only tasks with this priority.".to_owned(),
                Ref::from_schema_name("TaskPriority").into(),
            ),
            query(
                "sort",
                "`created_at` (default), `-created_at`, `due_at` or `-due_at`; `-` is descending.\n\
                 Tasks without a due date come last."
                    .to_owned(),
                string().pattern(Some("^-?(created_at|due_at)$")).into(),
            ),
            query(
                "limit",
                format!("Page size, 1–{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(1))
                    .maximum(Some(MAX_PAGE_SIZE))
                    .into(),
            ),
            query(
                "cursor",
                "The `next` value of the previous page.".to_owned(),
                string().into(),
            ),
        ]
    }
}

fn parse_list_query(pairs: Vec<(String, String)>) -> Result<(TaskQuery, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let mut query = TaskQuery {
        status: None,
        priority: None,
        sort: SortKey::CreatedAt,
        direction: SortDirection::Ascending,
        limit: DEFAULT_PAGE_SIZE,
        after: None,
    };
    let mut cursor_text = None;
    for (name, value) in pairs {
        match name.as_str() {
            "status" => match TaskStatus::parse(&value) {
                Some(status) => query.status = Some(status),
                None => errors.push(FieldError::new(
                    "status",
                    "must be one of todo, in_progress, done",
                )),
            },
            "priority" => match TaskPriority::parse(&value) {
                Some(priority) => query.priority = Some(priority),
                None => errors.push(FieldError::new(
                    "priority",
                    "must be one of low, medium, high",
                )),
            },
            "sort" => {
                let (direction, column) = match value.strip_prefix('-') {
                    Some(column) => (SortDirection::Descending, column),
                    None => (SortDirection::Ascending, value.as_str()),
                };
                query.direction = direction;
                match column {
                    "created_at" => query.sort = SortKey::CreatedAt,
                    "due_at" => query.sort = SortKey::DueAt,
                    _ => errors.push(FieldError::new(
                        "sort",
                        "must be created_at, -created_at, due_at or -due_at",
                    )),
                }
            }
            "limit" => match value.parse::<u32>() {
                Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => query.limit = limit,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                )),
            },
            "cursor" => cursor_text = Some(value),
            _ => {}
        }
    }
    if let Some(text) = &cursor_text {
        match cursor::decode(text, query.sort, query.direction) {
            Ok(keyset) => query.after = Some(keyset),
            Err(why) => errors.push(FieldError::new("cursor", why)),
        }
    }
    if errors.is_empty() {
        Ok((query, cursor_text))
    } else {
        Err(ApiError::InvalidParameters(errors))
    }
}

/// The `{id}` path segment; anything that is not a UUID names no task.
pub struct TaskId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TaskId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::TaskNotFound)?;
        Uuid::parse_str(&raw)
            .map(TaskId)
            .map_err(|_| ApiError::TaskNotFound)
    }
}

/// What `If-Match` allows (RFC 9110 §13.1.1, strong comparison).
enum IfMatch {
    Absent,
    Any,
    Tags(Vec<String>),
}

impl IfMatch {
    fn from_headers(headers: &HeaderMap) -> Self {
        let values: Vec<&str> = headers
            .get_all(header::IF_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return IfMatch::Absent;
        }
        let tags: Vec<String> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .collect();
        if tags.iter().any(|t| t == "*") {
            IfMatch::Any
        } else {
            IfMatch::Tags(tags)
        }
    }

    fn allows(&self, task: &Task) -> bool {
        match self {
            IfMatch::Absent | IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|t| *t == task.etag()),
        }
    }
}

/// The owner's task `id`, or 404: another owner's task is as absent as a missing one.
async fn owned_task(state: &AppState, owner: &OwnerId, id: Uuid) -> Result<Task, ApiError> {
    state
        .store
        .get(owner, id)
        .await?
        .ok_or(ApiError::TaskNotFound)
}

fn task_response(status: StatusCode, task: &Task) -> Response {
    let mut response = (status, Json(TaskResponse::from(task))).into_response();
    let etag = HeaderValue::from_str(&task.etag()).expect("etags are ASCII");
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// Create a task.
#[utoipa::path(
    post, path = route_templates::TASKS, tag = "tasks",
    request_body(content = CreateTaskRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = TaskResponse,
            headers(("Location" = String, description = "URL of the new task"), ("ETag" = String))),
        JsonBodyProblems,
        EveryOperationProblems,
    ),
    security(("bearer" = []))
)]
pub async fn create_task(
    State(state): State<AppState>,
    owner: OwnerId,
    JsonBody(request): JsonBody<CreateTaskRequest>,
) -> Result<Response, ApiError> {
    let task = Task::create(NewTask::try_from(request)?, Utc::now());
    state.store.insert(&owner, &task).await?;
    state.metrics.tasks_created.inc();
    let mut response = task_response(StatusCode::CREATED, &task);
    let location =
        HeaderValue::from_str(&format!("/api/v1/tasks/{}", task.id)).expect("uuids are ASCII");
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Read a task.
#[utoipa::path(
    get, path = route_templates::TASK, tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskResponse, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        TaskNotFoundProblem,
        EveryOperationProblems,
    ),
    security(("bearer" = []))
)]
pub async fn get_task(
    State(state): State<AppState>,
    owner: OwnerId,
    TaskId(id): TaskId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let task = owned_task(&state, &owner, id).await?;
    let etag = task.etag();
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t == etag || t == format!("W/{etag}"))
        });
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(
            header::ETAG,
            HeaderValue::from_str(&etag).expect("etags are ASCII"),
        );
        return Ok(response);
    }
    Ok(task_response(StatusCode::OK, &task))
}

/// List tasks, filtered and sorted, one page at a time.
#[utoipa::path(
    get, path = route_templates::TASKS, tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "One page", body = TaskPage),
        QueryProblems,
        EveryOperationProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    owner: OwnerId,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TaskPage>, ApiError> {
    let Query(pairs) = query
        .map_err(|e| ApiError::InvalidParameters(vec![FieldError::new("query", e.body_text())]))?;
    let (query, _) = parse_list_query(pairs)?;
    let page = state.store.page(&owner, &query).await?;
    Ok(Json(TaskPage {
        items: page.tasks.iter().map(TaskResponse::from).collect(),
        next: page
            .next
            .map(|keyset| cursor::encode(query.sort, query.direction, &keyset)),
    }))
}

/// Change some fields of a task.
#[utoipa::path(
    patch, path = route_templates::TASK, tag = "tasks",
    params(
        ("id" = Uuid, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, description = "ETag the client last read; 412 if the task changed since"),
    ),
    request_body(content = UpdateTaskRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated task", body = TaskResponse, headers(("ETag" = String))),
        JsonBodyProblems,
        TaskNotFoundProblem,
        PreconditionProblem,
        EveryOperationProblems,
    ),
    security(("bearer" = []))
)]
pub async fn update_task(
    State(state): State<AppState>,
    owner: OwnerId,
    TaskId(id): TaskId,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UpdateTaskRequest>,
) -> Result<Response, ApiError> {
    let patch = TaskPatch::try_from(request)?;
    let if_match = IfMatch::from_headers(&headers);
    for _ in 0..MAX_UPDATE_ATTEMPTS {
        let current = owned_task(&state, &owner, id).await?;
        if !if_match.allows(&current) {
            return Err(ApiError::PreconditionFailed);
        }
        let updated = current.apply(patch.clone(), Utc::now());
        match state
            .store
            .update(&owner, &updated, current.version)
            .await?
        {
            UpdateOutcome::Updated => {
                if updated.status == TaskStatus::Done && current.status != TaskStatus::Done {
                    state.metrics.tasks_completed.inc();
                }
                return Ok(task_response(StatusCode::OK, &updated));
            }
            UpdateOutcome::NotFound => return Err(ApiError::TaskNotFound),
            // Someone else changed it between our read and write. With If-Match the client
            // asked for exactly that version, which is gone; without, read again and retry.
            UpdateOutcome::VersionMismatch if matches!(if_match, IfMatch::Tags(_)) => {
                return Err(ApiError::PreconditionFailed);
            }
            UpdateOutcome::VersionMismatch => continue,
        }
    }
    Err(
        anyhow::anyhow!("task {id} kept changing during {MAX_UPDATE_ATTEMPTS} update attempts")
            .into(),
    )
}

/// Delete a task.
#[utoipa::path(
    delete, path = route_templates::TASK, tag = "tasks",
    params(
        ("id" = Uuid, Path, description = "Task id"),
        ("If-Match" = Option<String>, Header, description = "ETag the client last read; 412 if the task changed since"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        TaskNotFoundProblem,
        PreconditionProblem,
        EveryOperationProblems,
    ),
    security(("bearer" = []))
)]
pub async fn delete_task(
    State(state): State<AppState>,
    owner: OwnerId,
    TaskId(id): TaskId,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected_version = match IfMatch::from_headers(&headers) {
        IfMatch::Absent => None,
        if_match => {
            let current = owned_task(&state, &owner, id).await?;
            if !if_match.allows(&current) {
                return Err(ApiError::PreconditionFailed);
            }
            Some(current.version)
        }
    };
    match state.store.delete(&owner, id, expected_version).await? {
        DeleteOutcome::Deleted => {
            state.metrics.tasks_deleted.inc();
            Ok(StatusCode::NO_CONTENT)
        }
        DeleteOutcome::NotFound => Err(ApiError::TaskNotFound),
        DeleteOutcome::VersionMismatch => Err(ApiError::PreconditionFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_parameters_default_and_parse() {
        let (q, _) = parse_list_query(pairs(&[])).unwrap();
        assert_eq!(
            (q.sort, q.direction, q.limit),
            (SortKey::CreatedAt, SortDirection::Ascending, 20)
        );
        let (q, _) = parse_list_query(pairs(&[
            ("sort", "-due_at"),
            ("limit", "100"),
            ("status", "done"),
        ]))
        .unwrap();
        assert_eq!(
            (q.sort, q.direction, q.limit),
            (SortKey::DueAt, SortDirection::Descending, 100)
        );
        assert_eq!(q.status, Some(TaskStatus::Done));
    }

    #[test]
    fn every_bad_list_parameter_is_reported() {
        let bad = pairs(&[
            ("limit", "101"),
            ("status", "blocked"),
            ("sort", "title"),
            ("cursor", "zzz"),
        ]);
        let Err(ApiError::InvalidParameters(errors)) = parse_list_query(bad) else {
            panic!("expected errors")
        };
        let names: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(names, ["limit", "status", "sort", "cursor"]);
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let cleared: UpdateTaskRequest = serde_json::from_str(r#"{"due_at": null}"#).unwrap();
        assert_eq!(cleared.due_at, Some(None));
        let kept: UpdateTaskRequest = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
        assert_eq!(kept.due_at, None);
    }
}
