//! The opaque `next` cursor of a list page: the sort it was made for and the keyset of the
//! page's last row, base64url-encoded. Clients must treat it as opaque; we only promise
//! that it continues the same listing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Keyset, SortDirection, SortKey};

const FORMAT_VERSION: &str = "1";

pub fn encode(sort: SortKey, direction: SortDirection, keyset: &Keyset) -> String {
    let value = keyset
        .value
        .map_or_else(|| "-".to_owned(), |v| v.timestamp_micros().to_string());
    let plain = format!(
        "{FORMAT_VERSION}|{}|{value}|{}",
        sort_token(sort, direction),
        keyset.id
    );
    URL_SAFE_NO_PAD.encode(plain)
}

/// The keyset inside `cursor`, if it is well formed and was made for this sort.
pub fn decode(
    cursor: &str,
    sort: SortKey,
    direction: SortDirection,
) -> Result<Keyset, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| "is not a cursor returned by this API")?;
    let plain = String::from_utf8(bytes).map_err(|_| "is not a cursor returned by this API")?;
    let parts: Vec<&str> = plain.split('|').collect();
    let [version, sort_part, value, id] = parts[..] else {
        return Err("is not a cursor returned by this API");
    };
    if version != FORMAT_VERSION {
        return Err("is not a cursor returned by this API");
    }
    if sort_part != sort_token(sort, direction) {
        return Err("was made for a different sort order; pass the same sort as the first page");
    }
    let value = match value {
        "-" => None,
        micros => Some(
            micros
                .parse::<i64>()
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_micros)
                .ok_or("is not a cursor returned by this API")?,
        ),
    };
    if sort == SortKey::CreatedAt && value.is_none() {
        return Err("is not a cursor returned by this API");
    }
    let id = Uuid::parse_str(id).map_err(|_| "is not a cursor returned by this API")?;
    Ok(Keyset { value, id })
}

fn sort_token(sort: SortKey, direction: SortDirection) -> String {
    let column = match sort {
        SortKey::CreatedAt => "created_at",
        SortKey::DueAt => "due_at",
    };
    match direction {
        SortDirection::Ascending => column.to_owned(),
        SortDirection::Descending => format!("-{column}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::storage_precision;

    #[test]
    fn a_cursor_round_trips_for_its_own_sort_only() {
        let keyset = Keyset {
            value: Some(storage_precision(Utc::now())),
            id: Uuid::now_v7(),
        };
        let cursor = encode(SortKey::DueAt, SortDirection::Descending, &keyset);
        assert_eq!(
            decode(&cursor, SortKey::DueAt, SortDirection::Descending),
            Ok(keyset)
        );
        assert!(decode(&cursor, SortKey::DueAt, SortDirection::Ascending).is_err());
        assert!(decode(&cursor, SortKey::CreatedAt, SortDirection::Descending).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for cursor in [
            "",
            "!!!",
            "bm90IGEgY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("1|created_at|x|y"),
        ] {
            assert!(
                decode(cursor, SortKey::CreatedAt, SortDirection::Ascending).is_err(),
                "{cursor}"
            );
        }
    }
}
