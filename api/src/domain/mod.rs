//! The task domain: types that are valid by construction, independent of HTTP and SQL.

mod listing;
mod owner;
mod task;

pub use listing::{Keyset, MAX_PAGE_SIZE, Page, SortDirection, SortKey, TaskQuery};
pub use owner::{OWNER_MAX_BYTES, OwnerId};
pub use task::{
    DESCRIPTION_MAX_CHARS, NewTask, TITLE_MAX_CHARS, Task, TaskDescription, TaskPatch,
    TaskPriority, TaskStatus, TaskTitle, storage_precision,
};

/// Why one field of a request is invalid. `pointer` is a JSON Pointer (RFC 6901) into the
/// request body, or the name of a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) of the offending field, e.g. `/title`; for a query parameter its name.
    pub pointer: String,
    /// What is wrong and what is allowed.
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}
