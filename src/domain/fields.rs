//! The free-text fields of a do-not-call entry (reason, source, note, the CRM's external
//! id), read the same way wherever an entry comes from: one `POST /v1/dnc`, a bulk sync
//! row, a drift report's candidate.

/// Longest free-text field (reason, source, note) stored.
pub const MAX_TEXT: usize = 2000;
/// Longest external id (the CRM's id of a flag), like a client name.
pub const MAX_EXTERNAL_ID: usize = 200;

/// Why a field cannot be stored; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

/// A free-text field trimmed, `None` when blank; too long or holding a NUL is an error.
pub fn text(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    bounded(field, value, MAX_TEXT)
}

/// The CRM's id of a flag: as [`text`], at most [`MAX_EXTERNAL_ID`] characters.
pub fn external_id(value: Option<&str>) -> Result<Option<String>, FieldError> {
    bounded("external_id", value, MAX_EXTERNAL_ID)
}

/// Limits count characters of the text as sent, as the API documents them and as the
/// database's `length()` checks them (200 Polish letters are a 200-character field).
fn bounded(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(FieldError(format!(
            "{field} is longer than {max} characters"
        )));
    }
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.contains('\0') {
        return Err(FieldError(format!("{field} contains a NUL character")));
    }
    Ok(Some(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_absent_and_limits_name_the_field() {
        assert_eq!(text("reason", Some("  ")), Ok(None));
        assert_eq!(text("reason", Some(" asked ")), Ok(Some("asked".into())));
        let e = text("note", Some(&"x".repeat(MAX_TEXT + 1))).unwrap_err();
        assert!(e.0.contains("note"), "{e}");
        assert!(text("source", Some("a\0b")).is_err());
        assert!(external_id(Some(&"7".repeat(MAX_EXTERNAL_ID + 1))).is_err());
        assert_eq!(external_id(Some("crm-17")), Ok(Some("crm-17".into())));
        // Characters, not bytes: 2000 Polish letters fit.
        assert!(text("note", Some(&"ł".repeat(MAX_TEXT))).unwrap().is_some());
        assert!(external_id(Some(&"ż".repeat(MAX_EXTERNAL_ID))).is_ok());
    }
}
