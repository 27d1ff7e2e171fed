//! What a list request asks for: filters, order, page size and where the previous page ended.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Task, TaskPriority, TaskStatus};

pub const MAX_PAGE_SIZE: u32 = 100;

/// The column a list is ordered by; ties are always broken by id, so the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    /// Tasks without a due date come last in both directions.
    DueAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Ascending,
    Descending,
}

/// The last row of the previous page: the next page starts strictly after it. Keyset
/// pagination stays correct while rows are inserted, unlike offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// The sort column's value in that row (`None`: a task without a due date).
    pub value: Option<DateTime<Utc>>,
    pub id: Uuid,
}

impl Keyset {
    /// Where a page that ends with `task` stops, in the order of `sort`.
    pub fn of(task: &Task, sort: SortKey) -> Self {
        let value = match sort {
            SortKey::CreatedAt => Some(task.created_at),
            SortKey::DueAt => task.due_at,
        };
        Keyset { value, id: task.id }
    }
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub sort: SortKey,
    pub direction: SortDirection,
    /// 1..=MAX_PAGE_SIZE
    pub limit: u32,
    pub after: Option<Keyset>,
}

/// One page of a listing: at most the query's `limit` tasks, in its order.
#[derive(Debug)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Keyset>,
}
