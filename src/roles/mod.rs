//! The roles a datamodel declares in `.pum.yaml` (`roles:`), created and granted as
//! Python pum 1.9 does, and the login roles people are given them through.
//!
//! ```yaml
//! roles:
//!   - name: viewer
//!     description: Reads the data.
//!     permissions: [{type: read, schemas: [shop, shop_app]}]
//!   - name: editor
//!     inherit: viewer            # editor is a member of viewer
//!     permissions: [{type: write, schemas: [shop]}]
//! ```
//!
//! - **Create.** Each role is created `NOLOGIN NOSUPERUSER INHERIT NOCREATEDB
//!   NOCREATEROLE NOREPLICATION` with its description as a comment, unless it exists; the
//!   membership in the role it inherits is granted either way (a revoked membership comes
//!   back). Two runs creating the same role at once both succeed.
//! - **Suffix.** With a suffix (`lausanne`), database-specific roles `viewer_lausanne`,
//!   `editor_lausanne` are made beside the generic ones, inheriting among themselves as
//!   the generic ones do; permissions go to the specific roles only, and no membership
//!   links specific and generic roles.
//! - **Grant.** `read` is USAGE on the schema, SELECT, REFERENCES and TRIGGER on its
//!   tables, USAGE and SELECT on its sequences, EXECUTE on its functions and procedures,
//!   USAGE on its types; `write` is ALL on each of them. Default privileges cover what is
//!   created later by the same user. A schema that does not exist is skipped with a
//!   warning.
//! - **Types, unlike Python pum.** Python pum 1.9.2 means to grant the existing types too
//!   but its filter (`typname NOT LIKE '_%'`) matches no type, so a fresh install lacks
//!   the type grants an upgraded database got through default privileges. Here the
//!   existing types get them, exactly those default privileges would have covered (not
//!   array types, not the row types of tables and views), so both are the same.
//! - **Revoke and drop.** Revoking takes back what granting gave (also what the roles it
//!   inherits were given, as Python pum does) and the roles' memberships; dropping
//!   revokes, then drops (with `force`, what the role still owns is reassigned to the
//!   current user and its remaining privileges dropped first). A role that does not exist
//!   is skipped with a warning instead of failing the run.
//! - **Logins.** [`create_login`] makes a LOGIN role; its password goes to the server
//!   already hashed (SCRAM-SHA-256), so it appears neither in the server's log nor in
//!   `pg_stat_activity`.
//!
//! Every name is quoted ([`crate::quote_identifier`]); every value is a quoted literal.
//! The functions taking a [`ConnectionSpec`] run in one transaction of their own; a
//! migration runs the same statements inside its own transaction.

mod catalog;
mod inventory;
mod logins;
mod manager;
mod readonly;
mod statements;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::wire::Sql;

pub use inventory::{Inventory, RoleStatus, SchemaAccess};
pub use logins::{create_login, drop_login, drop_role, login_roles, members_of};
pub use manager::RoleManager;
pub use readonly::{ReadOnly, create_readonly};

/// Which configured roles an operation concerns.
#[derive(Debug, Clone, Default)]
pub struct RoleSelection {
    /// Configured role names; `None` for all of them.
    pub roles: Option<Vec<String>>,
    /// Act on the database-specific roles `<name>_<suffix>` instead of the generic ones.
    pub suffix: Option<String>,
}

/// What an operation noticed and went past (a missing schema, a missing role).
pub type Warnings = Vec<String>;

/// Runs `work` in a transaction of a new session to `spec`, committing when it succeeds.
fn in_transaction<T>(
    spec: &ConnectionSpec,
    work: impl FnOnce(&mut dyn Sql) -> Result<T>,
) -> Result<T> {
    let mut client = spec.connect()?;
    let mut transaction = client
        .transaction()
        .map_err(|e| Error::server("begin a transaction", &(&e).into()))?;
    let value = work(&mut transaction)?;
    transaction
        .commit()
        .map_err(|e| Error::server("commit", &(&e).into()))?;
    Ok(value)
}

/// Runs `statements` (nothing when empty); `doing` names the work in an error.
fn run(sql: &mut dyn Sql, statements: &str, doing: &str) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    sql.batch(statements).map_err(|e| Error::server(doing, &e))
}

/// `suffix`, refused when empty.
fn check_suffix(suffix: Option<&str>) -> Result<Option<&str>> {
    match suffix {
        Some("") => Err(Error::InvalidIdentifier {
            kind: "role suffix",
            name: String::new(),
            reason: "a suffix cannot be empty".into(),
        }),
        other => Ok(other),
    }
}

/// `name` or `name_suffix`.
pub(crate) fn suffixed(name: &str, suffix: Option<&str>) -> String {
    match suffix {
        Some(suffix) => format!("{name}_{suffix}"),
        None => name.to_string(),
    }
}
