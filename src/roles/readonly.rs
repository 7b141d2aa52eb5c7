//! Read-only users: a LOGIN role in a NOLOGIN group that may read some schemas, now and
//! what is created in them later.

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::sql::{quote_identifier, quote_literal};

use super::catalog::{all_roles, existing_schemas};
use super::{in_transaction, run};

/// What [`create_readonly`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnly {
    /// The NOLOGIN group holding the privileges.
    pub group: String,
    /// Whether the user existed already (its password was set again).
    pub updated: bool,
    /// The schemas it may read.
    pub schemas: Vec<String>,
}

/// Creates (or updates) a read-only user: a NOLOGIN group (`group`, default
/// `<user>_ro`) with CONNECT on the database `spec` names, USAGE on `schemas` (every
/// schema but PostgreSQL's own when empty), SELECT on their tables and sequences and
/// default privileges for the tables created later (by the current user), and the LOGIN
/// role `user` in it, with `password`, hashed here (SCRAM-SHA-256) before it is sent. In
/// one transaction.
///
/// # Errors
/// [`Error::InvalidIdentifier`]; [`Error::Refused`] for a schema that does not exist or a
/// superuser `user`; server errors.
pub fn create_readonly(
    spec: &ConnectionSpec,
    user: &str,
    password: &str,
    schemas: &[String],
    group: Option<&str>,
) -> Result<ReadOnly> {
    let group = group.map_or_else(|| format!("{user}_ro"), str::to_string);
    let user_q = quote_identifier("role", user)?;
    let group_q = quote_identifier("role", &group)?;
    let database = quote_identifier("database", spec.dbname())?;
    let hash = postgres_protocol::password::scram_sha_256(password.as_bytes());
    in_transaction(spec, |sql| {
        let schemas: Vec<String> = if schemas.is_empty() {
            sql.rows(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                 AND nspname <> 'information_schema' ORDER BY 1",
            )
            .map_err(|e| Error::server("list the schemas", &e))?
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect()
        } else {
            let names: Vec<&str> = schemas.iter().map(String::as_str).collect();
            let found = existing_schemas(sql, &names)?;
            if let Some(missing) = names.iter().find(|s| !found.contains(*s)) {
                return Err(Error::Refused {
                    operation: format!("let {user} read schema {missing}"),
                    reason: "there is no such schema".into(),
                });
            }
            schemas.to_vec()
        };
        let existing = all_roles(sql)?;
        if existing.iter().any(|r| r.name == user && r.superuser) {
            return Err(Error::Refused {
                operation: format!("make {user} a read-only user"),
                reason: "it is a superuser, which no privilege restricts".into(),
            });
        }
        let updated = existing.iter().any(|r| r.name == user);
        let mut statements = String::new();
        if !existing.iter().any(|r| r.name == group) {
            statements.push_str(&format!("CREATE ROLE {group_q} NOLOGIN;\n"));
        }
        statements.push_str(&format!(
            "GRANT CONNECT ON DATABASE {database} TO {group_q};\n"
        ));
        for schema in &schemas {
            let s = quote_identifier("schema", schema)?;
            statements.push_str(&format!(
                "GRANT USAGE ON SCHEMA {s} TO {group_q};\n\
                 GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {group_q};\n\
                 GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {group_q};\n\
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {group_q};\n\
                 ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON SEQUENCES TO {group_q};\n"
            ));
        }
        let verb = if updated { "ALTER" } else { "CREATE" };
        statements.push_str(&format!(
            "{verb} ROLE {user_q} LOGIN PASSWORD {};\nGRANT {group_q} TO {user_q};\n",
            quote_literal(&hash)
        ));
        run(sql, &statements, &format!("make the read-only user {user}"))?;
        Ok(ReadOnly {
            group: group.clone(),
            updated,
            schemas,
        })
    })
}
