//! The task and its parts. Constructors validate, so code past the HTTP boundary only ever
//! holds valid tasks.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;

pub const TITLE_MAX_CHARS: usize = 255;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

/// A task title: 1–255 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(title: String) -> Result<Self, FieldError> {
        let chars = title.chars().count();
        if title.trim().is_empty() {
            return Err(FieldError::new("/title", "must not be empty or blank"));
        }
        if chars > TITLE_MAX_CHARS {
            return Err(FieldError::new(
                "/title",
                format!("must be at most {TITLE_MAX_CHARS} characters, got {chars}"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "/title",
                "must not contain control characters",
            ));
        }
        Ok(Self(title))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task description: up to 10,000 characters (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub fn parse(description: String) -> Result<Self, FieldError> {
        let chars = description.chars().count();
        if chars > DESCRIPTION_MAX_CHARS {
            return Err(FieldError::new(
                "/description",
                format!("must be at most {DESCRIPTION_MAX_CHARS} characters, got {chars}"),
            ));
        }
        // PostgreSQL text cannot hold NUL; refuse it on every backend alike.
        if description.contains('\0') {
            return Err(FieldError::new(
                "/description",
                "must not contain NUL characters",
            ));
        }
        Ok(Self(description))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] = [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How much a task matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskPriority {
    Low,
    #[default]
    Medium,
    High,
}

impl TaskPriority {
    pub const ALL: [TaskPriority; 3] =
        [TaskPriority::Low, TaskPriority::Medium, TaskPriority::High];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskPriority::Low => "low",
            TaskPriority::Medium => "medium",
            TaskPriority::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A stored task. `version` starts at 1 and grows by one on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: Uuid,
    pub title: TaskTitle,
    pub description: TaskDescription,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// The fields a client chooses when creating a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: TaskDescription,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_at: Option<DateTime<Utc>>,
}

/// A partial update: `None` leaves a field as it is; `due_at: Some(None)` clears the due date.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<TaskTitle>,
    pub description: Option<TaskDescription>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub due_at: Option<Option<DateTime<Utc>>>,
}

/// Timestamps are kept to the microsecond, PostgreSQL's precision, so that what a client
/// reads back (and what a cursor carries) equals what is stored on every backend.
pub fn storage_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

impl Task {
    /// A new task with a time-ordered id (UUIDv7 keeps index inserts local).
    pub fn create(new: NewTask, now: DateTime<Utc>) -> Self {
        let now = storage_precision(now);
        Task {
            id: Uuid::now_v7(),
            title: new.title,
            description: new.description,
            status: new.status,
            priority: new.priority,
            due_at: new.due_at.map(storage_precision),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The task after `patch`, one version later.
    pub fn apply(&self, patch: TaskPatch, now: DateTime<Utc>) -> Self {
        Task {
            id: self.id,
            title: patch.title.unwrap_or_else(|| self.title.clone()),
            description: patch
                .description
                .unwrap_or_else(|| self.description.clone()),
            status: patch.status.unwrap_or(self.status),
            priority: patch.priority.unwrap_or(self.priority),
            due_at: patch
                .due_at
                .map_or(self.due_at, |due| due.map(storage_precision)),
            created_at: self.created_at,
            updated_at: storage_precision(now).max(self.updated_at),
            version: self.version + 1,
        }
    }

    /// The entity tag of this version (a strong validator: any change bumps the version).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_to_255_characters_not_blank() {
        assert!(TaskTitle::parse("Write the runbook".into()).is_ok());
        assert!(
            TaskTitle::parse("é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            TaskTitle::parse(String::new()).unwrap_err().pointer,
            "/title"
        );
        assert!(TaskTitle::parse("   ".into()).is_err());
        assert!(TaskTitle::parse("x".repeat(256)).is_err());
        assert!(TaskTitle::parse("bell\u{7}".into()).is_err());
    }

    #[test]
    fn descriptions_are_at_most_ten_thousand_characters() {
        assert!(TaskDescription::parse(String::new()).is_ok());
        assert!(TaskDescription::parse("d".repeat(10_000)).is_ok());
        assert_eq!(
            TaskDescription::parse("d".repeat(10_001))
                .unwrap_err()
                .pointer,
            "/description"
        );
    }

    #[test]
    fn applying_a_patch_bumps_the_version_and_keeps_untouched_fields() {
        let now = Utc::now();
        let task = Task::create(
            NewTask {
                title: TaskTitle::parse("a".into()).unwrap(),
                description: TaskDescription::default(),
                status: TaskStatus::Todo,
                priority: TaskPriority::High,
                due_at: Some(now),
            },
            now,
        );
        let patched = task.apply(
            TaskPatch {
                status: Some(TaskStatus::Done),
                due_at: Some(None),
                ..Default::default()
            },
            now,
        );
        assert_eq!(patched.version, 2);
        assert_eq!(patched.status, TaskStatus::Done);
        assert_eq!(patched.priority, TaskPriority::High);
        assert_eq!(patched.due_at, None);
        assert_eq!(patched.title, task.title);
        assert_eq!(patched.etag(), "\"2\"");
    }

    #[test]
    fn status_and_priority_round_trip_through_text() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        for p in TaskPriority::ALL {
            assert_eq!(TaskPriority::parse(p.as_str()), Some(p));
        }
        assert_eq!(TaskStatus::parse("blocked"), None);
    }
}
