//! Where the app's Better Auth keeps users and sessions. The settings mirror
//! Better Auth's own options (`usePlural`, `user.modelName`, `user.fields`,
//! `session.modelName`, `session.fields`), so an app's `betterAuth({ … })`
//! translates line by line; `BETTER_AUTH_CASING` covers the snake_case columns of
//! Drizzle's generator without naming every field.
//!
//! Names end up in SQL, and whoever writes the configuration is not trusted with
//! SQL: an [`Identifier`] is letters, digits and `_` only, and is always
//! double-quoted where it is used.

use clap::{Args, ValueEnum, builder::BoolishValueParser};

use super::ConfigError;

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`); a longer one
/// would be cut silently and name another table.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// A table or column name: 1 to 63 ASCII letters, digits and `_`, not starting
/// with a digit. Used in SQL only as [`Identifier::quoted`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identifier(String);

impl Identifier {
    /// Checks a name.
    ///
    /// # Errors
    /// When it is empty, too long, or holds anything but ASCII letters, digits and `_`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let mut chars = value.chars();
        let Some(first) = chars.next() else {
            return Err("a name must not be empty".to_owned());
        };
        if value.len() > MAX_IDENTIFIER_BYTES {
            return Err(format!("{value:?} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"));
        }
        if !(first.is_ascii_alphabetic() || first == '_') || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "{value:?} is not a plain name: use ASCII letters, digits and _, not starting with a digit"
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as it is.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name double-quoted for SQL. Safe because a name holds no quote.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a column is named when `…_FIELDS` does not name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Casing {
    /// The field name itself (`emailVerified`): Better Auth's own migration,
    /// Prisma's generator, Kysely.
    #[default]
    #[value(name = "camelCase")]
    CamelCase,
    /// `email_verified`: Drizzle's generator (`npx auth generate`).
    #[value(name = "snake_case")]
    SnakeCase,
}

impl Casing {
    fn column(self, field: &str) -> String {
        match self {
            Self::CamelCase => field.to_owned(),
            Self::SnakeCase => field.chars().fold(String::new(), |mut out, c| {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                out
            }),
        }
    }
}

/// The fields of Better Auth's `user` model (with the `admin()` plugin's), which
/// `BETTER_AUTH_USER_FIELDS` may rename.
pub const USER_FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
    "role",
    "banned",
    "banReason",
    "banExpires",
];

/// The fields of Better Auth's `session` model (with the `admin()` plugin's).
pub const SESSION_FIELDS: &[&str] =
    &["id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId", "impersonatedBy"];

/// `field=column` pairs, as in Better Auth's `fields` option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMap(Vec<(&'static str, Identifier)>);

impl FieldMap {
    /// Parses `emailVerified=email_verified, createdAt=created_at` against the
    /// fields a model has. Empty means none renamed.
    ///
    /// # Errors
    /// An unknown field, a field named twice, two fields on one column, a bad name.
    pub fn parse(value: &str, known: &[&'static str]) -> Result<Self, String> {
        let mut pairs: Vec<(&'static str, Identifier)> = Vec::new();
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, column) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not field=column (e.g. emailVerified=email_verified)"))?;
            let field = field.trim();
            let field = known.iter().copied().find(|known| *known == field).ok_or_else(|| {
                format!("{field:?} is not a field of this model; the fields are {}", known.join(", "))
            })?;
            let column = Identifier::parse(column)?;
            if pairs.iter().any(|(f, _)| *f == field) {
                return Err(format!("{field} is named twice"));
            }
            if let Some((other, _)) = pairs.iter().find(|(_, c)| *c == column) {
                return Err(format!("{other} and {field} are both on the column {column}"));
            }
            pairs.push((field, column));
        }
        Ok(Self(pairs))
    }

    fn get(&self, field: &str) -> Option<&Identifier> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, column)| column)
    }
}

fn user_fields(value: &str) -> Result<FieldMap, String> {
    FieldMap::parse(value, USER_FIELDS)
}

fn session_fields(value: &str) -> Result<FieldMap, String> {
    FieldMap::parse(value, SESSION_FIELDS)
}

/// Better Auth's default model name when the setting is empty, as an empty
/// setting means unset elsewhere too. (The fields hold `std::option::Option`, so
/// that clap takes the whole `Option` from this parser and passes "" to it.)
fn model_name(value: &str) -> Result<Option<Identifier>, String> {
    if value.trim().is_empty() { Ok(None) } else { Identifier::parse(value).map(Some) }
}

/// The settings that say where Better Auth's users and sessions are.
#[derive(Args, Clone, Debug, Default)]
pub struct BetterAuthSchemaArgs {
    /// Better Auth's `usePlural` (an adapter option): tables `users` and `sessions`,
    /// or the model names below with an `s`.
    #[arg(
        long = "better-auth-use-plural",
        env = "BETTER_AUTH_USE_PLURAL",
        value_name = "BETTER_AUTH_USE_PLURAL",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = BoolishValueParser::new(),
        global = true
    )]
    pub use_plural: bool,
    /// Better Auth's `user.modelName`: the user table (`user` when not set or empty).
    #[arg(
        long = "better-auth-user-model-name",
        env = "BETTER_AUTH_USER_MODEL_NAME",
        value_name = "BETTER_AUTH_USER_MODEL_NAME",
        default_value = "",
        hide_default_value = true,
        value_parser = model_name,
        global = true
    )]
    pub user_model_name: std::option::Option<Identifier>,
    /// Better Auth's `session.modelName`: the session table (`session` when not set or empty).
    #[arg(
        long = "better-auth-session-model-name",
        env = "BETTER_AUTH_SESSION_MODEL_NAME",
        value_name = "BETTER_AUTH_SESSION_MODEL_NAME",
        default_value = "",
        hide_default_value = true,
        value_parser = model_name,
        global = true
    )]
    pub session_model_name: std::option::Option<Identifier>,
    /// Better Auth's `user.fields` (and the `admin()` plugin's `schema.user.fields`):
    /// `field=column` pairs, comma-separated, e.g. `emailVerified=email_verified`.
    #[arg(
        long = "better-auth-user-fields",
        env = "BETTER_AUTH_USER_FIELDS",
        value_name = "BETTER_AUTH_USER_FIELDS",
        default_value = "",
        hide_default_value = true,
        value_parser = user_fields,
        global = true
    )]
    pub user_fields: FieldMap,
    /// Better Auth's `session.fields`: `field=column` pairs, e.g. `expiresAt=expires_at`.
    #[arg(
        long = "better-auth-session-fields",
        env = "BETTER_AUTH_SESSION_FIELDS",
        value_name = "BETTER_AUTH_SESSION_FIELDS",
        default_value = "",
        hide_default_value = true,
        value_parser = session_fields,
        global = true
    )]
    pub session_fields: FieldMap,
    /// Columns not named in the fields settings: `camelCase` (Better Auth's own
    /// migration, Prisma) or `snake_case` (Drizzle's generator).
    #[arg(
        long = "better-auth-casing",
        env = "BETTER_AUTH_CASING",
        value_name = "BETTER_AUTH_CASING",
        value_enum,
        default_value_t = Casing::CamelCase,
        global = true
    )]
    pub casing: Casing,
}

/// The `"user"` columns the service reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserColumns {
    /// `id`.
    pub id: Identifier,
    /// `name`.
    pub name: Identifier,
    /// `email`.
    pub email: Identifier,
    /// `emailVerified`.
    pub email_verified: Identifier,
    /// `image`.
    pub image: Identifier,
    /// `createdAt`.
    pub created_at: Identifier,
    /// `updatedAt`.
    pub updated_at: Identifier,
    /// `banned`, the `admin()` plugin's; read when the column exists.
    pub banned: Identifier,
    /// `banExpires`, the `admin()` plugin's; read when the column exists.
    pub ban_expires: Identifier,
}

/// The `session` columns the service reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionColumns {
    /// `token`.
    pub token: Identifier,
    /// `userId`.
    pub user_id: Identifier,
    /// `expiresAt`.
    pub expires_at: Identifier,
}

/// Where the service reads users and sessions: the settings resolved as Better
/// Auth resolves its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BetterAuthSchema {
    /// The user table.
    pub user_table: Identifier,
    /// The session table.
    pub session_table: Identifier,
    /// Its columns.
    pub user: UserColumns,
    /// Its columns.
    pub session: SessionColumns,
}

impl Default for BetterAuthSchema {
    fn default() -> Self {
        BetterAuthSchemaArgs::default().resolve().unwrap_or_else(|_| unreachable!("the defaults resolve"))
    }
}

impl BetterAuthSchemaArgs {
    /// The table and column names, as Better Auth derives them: the model name
    /// (or the default), plus `s` with `usePlural`; each field's column from
    /// `fields`, else the casing.
    ///
    /// # Errors
    /// When a plural table name grows past PostgreSQL's identifier length.
    pub fn resolve(&self) -> Result<BetterAuthSchema, ConfigError> {
        let table = |setting: &'static str, model: &Option<Identifier>, default: &str| {
            let name = model.as_ref().map_or(default, Identifier::as_str);
            let name = if self.use_plural { format!("{name}s") } else { name.to_owned() };
            Identifier::parse(&name).map_err(|reason| ConfigError { setting, reason })
        };
        let column = |setting: &'static str, fields: &FieldMap, field: &str| match fields.get(field) {
            Some(column) => Ok(column.clone()),
            None => Identifier::parse(&self.casing.column(field)).map_err(|reason| ConfigError { setting, reason }),
        };
        let user = |field| column("BETTER_AUTH_USER_FIELDS", &self.user_fields, field);
        let session = |field| column("BETTER_AUTH_SESSION_FIELDS", &self.session_fields, field);
        Ok(BetterAuthSchema {
            user_table: table("BETTER_AUTH_USER_MODEL_NAME", &self.user_model_name, "user")?,
            session_table: table("BETTER_AUTH_SESSION_MODEL_NAME", &self.session_model_name, "session")?,
            user: UserColumns {
                id: user("id")?,
                name: user("name")?,
                email: user("email")?,
                email_verified: user("emailVerified")?,
                image: user("image")?,
                created_at: user("createdAt")?,
                updated_at: user("updatedAt")?,
                banned: user("banned")?,
                ban_expires: user("banExpires")?,
            },
            session: SessionColumns {
                token: session("token")?,
                user_id: session("userId")?,
                expires_at: session("expiresAt")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        schema: BetterAuthSchemaArgs,
    }

    fn resolve(args: &[&str]) -> Result<BetterAuthSchema, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        cli.schema.resolve().map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_better_auths_own_migration() {
        let schema = resolve(&[]).unwrap();
        assert_eq!(schema, BetterAuthSchema::default());
        assert_eq!(schema.user_table.quoted(), "\"user\"");
        assert_eq!(schema.session_table.as_str(), "session");
        assert_eq!(schema.user.email_verified.as_str(), "emailVerified");
        assert_eq!(schema.session.expires_at.as_str(), "expiresAt");
        assert_eq!(schema.user.ban_expires.as_str(), "banExpires");
    }

    #[test]
    fn an_empty_model_name_means_better_auths_default() {
        let schema = resolve(&["--better-auth-user-model-name=", "--better-auth-session-model-name", " "]).unwrap();
        assert_eq!(schema, BetterAuthSchema::default());
    }

    #[test]
    fn use_plural_adds_an_s_to_the_model_names_as_better_auth_does() {
        let schema = resolve(&["--better-auth-use-plural", "true"]).unwrap();
        assert_eq!((schema.user_table.as_str(), schema.session_table.as_str()), ("users", "sessions"));
        let custom = resolve(&[
            "--better-auth-use-plural=yes",
            "--better-auth-user-model-name=member",
            "--better-auth-session-model-name",
            "login",
        ])
        .unwrap();
        assert_eq!((custom.user_table.as_str(), custom.session_table.as_str()), ("members", "logins"));
    }

    #[test]
    fn snake_case_and_explicit_fields_name_the_columns() {
        let schema = resolve(&[
            "--better-auth-casing=snake_case",
            "--better-auth-user-fields",
            "email=mail, banExpires=banned_until",
            "--better-auth-session-fields=token=session_token",
        ])
        .unwrap();
        assert_eq!(schema.user.email_verified.as_str(), "email_verified");
        assert_eq!(schema.user.created_at.as_str(), "created_at");
        assert_eq!(schema.user.email.as_str(), "mail");
        assert_eq!(schema.user.ban_expires.as_str(), "banned_until");
        assert_eq!(schema.session.user_id.as_str(), "user_id");
        assert_eq!(schema.session.token.as_str(), "session_token");
    }

    #[test]
    fn names_that_could_break_out_of_quotes_are_refused() {
        for bad in ["user\"; DROP TABLE tasks; --", "us\"er", "a b", "1user", "", "naïve", "user.name", &"x".repeat(64)]
        {
            assert!(Identifier::parse(bad).is_err(), "{bad:?} accepted");
            // An empty model name is Better Auth's default (tested above).
            let model = resolve(&[&format!("--better-auth-user-model-name={bad}")]);
            assert!(model.is_err() || bad.is_empty(), "{bad:?} accepted");
            assert!(resolve(&[&format!("--better-auth-user-fields=email={bad}")]).is_err(), "{bad:?} accepted");
        }
        assert!(Identifier::parse(&"x".repeat(63)).is_ok());
        let long = "x".repeat(63);
        let err = resolve(&["--better-auth-use-plural=true", &format!("--better-auth-user-model-name={long}")]);
        assert!(err.unwrap_err().contains("BETTER_AUTH_USER_MODEL_NAME"));
    }

    #[test]
    fn unknown_or_repeated_fields_are_refused() {
        for bad in ["emailverified=x", "email", "email=a,email=b", "email=a,name=a", "token=t"] {
            assert!(resolve(&[&format!("--better-auth-user-fields={bad}")]).is_err(), "{bad:?} accepted");
        }
        assert!(resolve(&["--better-auth-session-fields=email=x"]).is_err());
        assert!(resolve(&["--better-auth-casing=kebab"]).is_err());
    }
}
