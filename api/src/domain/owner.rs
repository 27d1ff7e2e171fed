//! Who a task belongs to: the owner a bearer token proves. Every store query is scoped to
//! one, so an owner can only ever see and change their own tasks.

/// The longest owner accepted, in bytes: identity providers' subject ids are far shorter,
/// and the `owner` column is indexed.
pub const OWNER_MAX_BYTES: usize = 255;

/// An owner id: 1–255 bytes, no control characters (it is logged and stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerId(String);

impl OwnerId {
    /// The owner id, if `owner` is a valid one.
    pub fn parse(owner: String) -> Option<Self> {
        let valid = !owner.is_empty()
            && owner.len() <= OWNER_MAX_BYTES
            && !owner.chars().any(char::is_control);
        valid.then_some(Self(owner))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_short_visible_text() {
        assert!(OwnerId::parse("alice".to_owned()).is_some());
        assert!(OwnerId::parse("x".repeat(OWNER_MAX_BYTES)).is_some());
        assert!(OwnerId::parse(String::new()).is_none());
        assert!(OwnerId::parse("x".repeat(OWNER_MAX_BYTES + 1)).is_none());
        assert!(OwnerId::parse("al\nice".to_owned()).is_none());
    }
}
