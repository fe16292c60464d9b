//! The schema's input types and their validation into the db layer's types.
//!
//! Every rule answers `BAD_USER_INPUT` with `extensions.field`, before anything is
//! written.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined};
use uuid::Uuid;

use crate::{
    db::task::{Changes, CreationKey, Filter, KEY_MAX, NewTask, Sort, SortField, Status},
    error::{AppError, AppResult},
};

/// Longest title, in characters, after trimming.
pub const TITLE_MAX: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest search text, in characters: no task can match a longer one.
pub const SEARCH_MAX: usize = DESCRIPTION_MAX;

/// Tasks by completion.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum TaskStatus {
    /// Every task.
    #[default]
    All,
    /// Not completed.
    Pending,
    /// Completed.
    Completed,
}

/// Which of the signed-in user's tasks to list.
#[derive(InputObject, Debug, Default)]
pub struct TaskFilter {
    /// By completion; `ALL` when omitted or null.
    #[graphql(default_with = "Some(TaskStatus::All)")]
    pub status: Option<TaskStatus>,
    /// Case-insensitive substring match on title or description; `%` and `_` match themselves.
    pub search: Option<String>,
}

/// The column to order tasks by; ties are broken by id.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaskOrderField {
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
    /// Title.
    Title,
}

/// A sort direction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// The order of a task list.
#[derive(InputObject, Debug)]
pub struct TaskOrder {
    /// The column; `CREATED_AT` by default.
    #[graphql(default_with = "TaskOrderField::CreatedAt")]
    pub field: TaskOrderField,
    /// The direction; `DESC` by default.
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

/// A new task.
#[derive(InputObject, Debug)]
pub struct CreateTaskInput {
    /// 1 to 200 characters once trimmed.
    pub title: String,
    /// At most 1000 characters.
    pub description: Option<String>,
    /// Done already; `false` when omitted or null.
    #[graphql(default_with = "Some(false)")]
    pub completed: Option<bool>,
    /// Makes the create safe to retry: a key the client chooses (1 to 64 printable
    /// ASCII characters, no spaces; a fresh UUID is a good one). The same key again
    /// from the same user, within at least 24 hours, creates nothing and answers the
    /// task the first request created; with other input it is refused
    /// (`BAD_USER_INPUT`), and when that task was since deleted it answers `NOT_FOUND`.
    pub client_mutation_id: Option<String>,
}

/// Changes to a task: an omitted field is left as it is; `description: null` clears it.
#[derive(InputObject, Debug, Default)]
pub struct UpdateTaskInput {
    /// 1 to 200 characters once trimmed; cannot be null.
    pub title: MaybeUndefined<String>,
    /// At most 1000 characters; null clears it.
    pub description: MaybeUndefined<String>,
    /// Cannot be null.
    pub completed: MaybeUndefined<bool>,
}

impl TaskFilter {
    /// The db layer's filter.
    ///
    /// # Errors
    /// A search with a NUL character or longer than any field.
    pub fn validate(self) -> AppResult<Filter> {
        let status = match self.status.unwrap_or_default() {
            TaskStatus::All => Status::All,
            TaskStatus::Pending => Status::Pending,
            TaskStatus::Completed => Status::Completed,
        };
        let search = match self.search {
            Some(search) => {
                no_nul("search", &search)?;
                if search.chars().count() > SEARCH_MAX {
                    return Err(AppError::bad_input(
                        "search",
                        format!("search is longer than {SEARCH_MAX} characters"),
                    ));
                }
                Some(search)
            }
            None => None,
        };
        Ok(Filter { status, search })
    }
}

impl From<Option<TaskOrder>> for Sort {
    fn from(order: Option<TaskOrder>) -> Self {
        let order = order.unwrap_or(TaskOrder { field: TaskOrderField::CreatedAt, direction: OrderDirection::Desc });
        Self {
            field: match order.field {
                TaskOrderField::CreatedAt => SortField::CreatedAt,
                TaskOrderField::UpdatedAt => SortField::UpdatedAt,
                TaskOrderField::Title => SortField::Title,
            },
            descending: order.direction == OrderDirection::Desc,
        }
    }
}

impl CreateTaskInput {
    /// The db layer's new task, and the client's key when it sent one.
    ///
    /// # Errors
    /// A bad title, description or key.
    pub fn validate(self) -> AppResult<(NewTask, Option<CreationKey>)> {
        let key = self
            .client_mutation_id
            .map(|key| {
                CreationKey::parse(&key).ok_or_else(|| {
                    AppError::bad_input(
                        "clientMutationId",
                        format!("clientMutationId must be 1 to {KEY_MAX} printable ASCII characters without spaces"),
                    )
                })
            })
            .transpose()?;
        let new = NewTask {
            title: title(&self.title)?,
            description: self.description.map(description).transpose()?,
            completed: self.completed.unwrap_or(false),
        };
        Ok((new, key))
    }
}

impl UpdateTaskInput {
    /// The db layer's changes.
    ///
    /// # Errors
    /// A bad title or description, or null where null is not allowed.
    pub fn validate(self) -> AppResult<Changes> {
        Ok(Changes {
            title: match self.title {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(AppError::bad_input("title", "title cannot be null")),
                MaybeUndefined::Value(text) => Some(title(&text)?),
            },
            description: match self.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(description(text)?)),
            },
            completed: match self.completed {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(AppError::bad_input("completed", "completed cannot be null")),
                MaybeUndefined::Value(done) => Some(done),
            },
        })
    }
}

/// A task id: a UUID in the one form the service writes it, 36 characters,
/// hyphenated, lowercase. `{…}`, `urn:uuid:…`, 32 bare hex digits and uppercase
/// are refused rather than normalised, so each task has exactly one id string: a
/// client cache keyed by the id (Apollo's is) can never hold a task twice, and
/// `deleteTask` answers exactly the id it was given.
///
/// # Errors
/// Anything else.
pub fn task_id(id: &ID) -> AppResult<Uuid> {
    let refused = || AppError::bad_input("id", "id must be a UUID in lowercase hyphenated form (36 characters)");
    let uuid = Uuid::try_parse(id.as_str()).map_err(|_| refused())?;
    let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
    if uuid.hyphenated().encode_lower(&mut canonical) != id.as_str() {
        return Err(refused());
    }
    Ok(uuid)
}

fn title(text: &str) -> AppResult<String> {
    no_nul("title", text)?;
    let trimmed = text.trim();
    match trimmed.chars().count() {
        0 => Err(AppError::bad_input("title", "title must not be empty")),
        n if n > TITLE_MAX => Err(AppError::bad_input("title", format!("title is longer than {TITLE_MAX} characters"))),
        _ => Ok(trimmed.to_owned()),
    }
}

fn description(text: String) -> AppResult<String> {
    no_nul("description", &text)?;
    if text.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::bad_input(
            "description",
            format!("description is longer than {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(text)
}

/// PostgreSQL cannot store a NUL character in text.
fn no_nul(field: &'static str, text: &str) -> AppResult<()> {
    if text.contains('\0') {
        return Err(AppError::bad_input(field, format!("{field} must not contain a NUL character")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: AppResult<impl std::fmt::Debug>) -> &'static str {
        match result {
            Err(AppError::BadUserInput { field, .. }) => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn titles_are_trimmed_and_counted_in_characters() {
        assert_eq!(title("  Buy milk \n").unwrap(), "Buy milk");
        assert_eq!(title(&"é".repeat(200)).unwrap().chars().count(), 200);
        assert_eq!(title(&format!("  {}  ", "x".repeat(200))).unwrap().len(), 200);
        for bad in ["", "   ", "\t\n", &"x".repeat(201), &"日".repeat(201), "a\0b"] {
            assert_eq!(field_of(title(bad)), "title", "{bad:?}");
        }
    }

    #[test]
    fn descriptions_stop_at_a_thousand_characters() {
        assert!(description("ü".repeat(1000)).is_ok());
        assert_eq!(field_of(description("ü".repeat(1001))), "description");
        assert_eq!(field_of(description("nul\0".into())), "description");
    }

    #[test]
    fn null_title_or_completed_in_an_update_is_refused() {
        let input = UpdateTaskInput { title: MaybeUndefined::Null, ..Default::default() };
        assert_eq!(field_of(input.validate()), "title");
        let input = UpdateTaskInput { completed: MaybeUndefined::Null, ..Default::default() };
        assert_eq!(field_of(input.validate()), "completed");
        let cleared = UpdateTaskInput { description: MaybeUndefined::Null, ..Default::default() };
        assert_eq!(cleared.validate().unwrap().description, Some(None));
    }

    #[test]
    fn ids_must_be_uuids_in_their_canonical_form() {
        let canonical = "0190a5e4-0000-7abc-8def-0123456789ab";
        assert_eq!(task_id(&ID::from(canonical)).unwrap().to_string(), canonical);
        assert!(task_id(&ID::from(Uuid::nil().to_string())).is_ok());
        for bad in [
            "42",
            "",
            "{0190a5e4-0000-7abc-8def-0123456789ab}",
            "urn:uuid:0190a5e4-0000-7abc-8def-0123456789ab",
            "0190a5e400007abc8def0123456789ab",
            "0190A5E4-0000-7ABC-8DEF-0123456789AB",
            "0190a5e4-0000-7abc-8def-0123456789aB",
            " 0190a5e4-0000-7abc-8def-0123456789ab",
            "0190a5e4-0000-7abc-8def-0123456789ab ",
            "0190a5e4-0000-7abc-8def-0123456789abc",
            "0190a5e40-000-7abc-8def-0123456789ab",
        ] {
            assert_eq!(field_of(task_id(&ID::from(bad))), "id", "{bad:?}");
        }
    }

    #[test]
    fn a_client_mutation_id_is_checked_before_anything_is_written() {
        let input = |key: &str| CreateTaskInput {
            title: "t".into(),
            description: None,
            completed: None,
            client_mutation_id: Some(key.into()),
        };
        assert_eq!(input("k-1").validate().unwrap().1.map(|k| k.as_str().to_owned()).as_deref(), Some("k-1"));
        for bad in ["", " ", &"k".repeat(65), "ключ", "a b"] {
            assert_eq!(field_of(input(bad).validate()), "clientMutationId", "{bad:?}");
        }
    }
}
