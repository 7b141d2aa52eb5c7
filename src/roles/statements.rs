//! The SQL texts of roles: create a role (twice at once is fine), grant and revoke a
//! permission type on a schema. Pure: names arrive quoted or are quoted here.

use crate::config::PermissionType;
use crate::error::Result;
use crate::sql::{quote_identifier, quote_literal};

pub(super) fn kind_name(kind: PermissionType) -> &'static str {
    match kind {
        PermissionType::Read => "read",
        PermissionType::Write => "write",
    }
}

pub(super) fn type_privilege(kind: PermissionType) -> &'static str {
    match kind {
        PermissionType::Read => "USAGE",
        PermissionType::Write => "ALL",
    }
}

/// Creates `name` unless it exists (also when another session creates it at the same
/// moment), comments it, and makes it a member of `parent`.
pub(super) fn create_sql(
    name: &str,
    description: Option<&str>,
    parent: Option<&str>,
) -> Result<String> {
    let role = quote_identifier("role", name)?;
    let mut body = format!(
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN\n\
         BEGIN\n\
         CREATE ROLE {role} NOSUPERUSER INHERIT NOCREATEDB NOCREATEROLE NOREPLICATION;\n",
        quote_literal(name)
    );
    if let Some(description) = description {
        body.push_str(&format!(
            "COMMENT ON ROLE {role} IS {};\n",
            quote_literal(description)
        ));
    }
    body.push_str(
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\nEND;\nEND IF;\n",
    );
    let mut sql = do_block(&body);
    if let Some(parent) = parent {
        sql.push_str(&format!(
            "GRANT {} TO {role};\n",
            quote_identifier("role", parent)?
        ));
    }
    Ok(sql)
}

/// `DO $tag$ BEGIN body END $tag$;` with a tag the body does not contain.
fn do_block(body: &str) -> String {
    let mut tag = "$pum$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$pum{n}$");
    }
    format!("DO {tag} BEGIN\n{body}END {tag};\n")
}

pub(super) fn grant_sql(kind: PermissionType, schema: &str, role: &str) -> String {
    let lines: &[&str] = match kind {
        PermissionType::Read => &[
            "GRANT USAGE ON SCHEMA {s} TO {r}",
            "GRANT SELECT, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {s} TO {r}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {r}",
            "GRANT EXECUTE ON ALL ROUTINES IN SCHEMA {s} TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, REFERENCES, TRIGGER ON TABLES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON SEQUENCES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT EXECUTE ON FUNCTIONS TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT EXECUTE ON ROUTINES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE ON TYPES TO {r}",
        ],
        PermissionType::Write => &[
            "GRANT ALL ON SCHEMA {s} TO {r}",
            "GRANT ALL ON ALL TABLES IN SCHEMA {s} TO {r}",
            "GRANT ALL ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            "GRANT ALL ON ALL FUNCTIONS IN SCHEMA {s} TO {r}",
            "GRANT ALL ON ALL ROUTINES IN SCHEMA {s} TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON TABLES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON SEQUENCES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON FUNCTIONS TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON ROUTINES TO {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT ALL ON TYPES TO {r}",
        ],
    };
    fill(lines, schema, role)
}

pub(super) fn revoke_sql(kind: PermissionType, schema: &str, role: &str) -> String {
    let lines: &[&str] = match kind {
        PermissionType::Read => &[
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE SELECT, REFERENCES, TRIGGER ON TABLES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE SELECT ON SEQUENCES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE EXECUTE ON FUNCTIONS FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE EXECUTE ON ROUTINES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE USAGE ON TYPES FROM {r}",
            "REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA {s} FROM {r}",
            "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} FROM {r}",
            "REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
            "REVOKE SELECT, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {s} FROM {r}",
            "REVOKE USAGE ON SCHEMA {s} FROM {r}",
        ],
        PermissionType::Write => &[
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON SEQUENCES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON FUNCTIONS FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON ROUTINES FROM {r}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TYPES FROM {r}",
            "REVOKE ALL ON ALL ROUTINES IN SCHEMA {s} FROM {r}",
            "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {s} FROM {r}",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
            "REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
            "REVOKE ALL ON SCHEMA {s} FROM {r}",
        ],
    };
    fill(lines, schema, role)
}

fn fill(lines: &[&str], schema: &str, role: &str) -> String {
    lines
        .iter()
        .map(|l| format!("{};\n", l.replace("{s}", schema).replace("{r}", role)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_quotes_names_and_survives_a_concurrent_creation() {
        let sql = create_sql("o'dd \"role\"", Some("it's $pum$ here"), Some("parent")).unwrap();
        assert!(sql.starts_with("DO $pum1$ BEGIN"), "{sql}");
        assert!(sql.contains("rolname = 'o''dd \"role\"'"), "{sql}");
        assert!(
            sql.contains("CREATE ROLE \"o'dd \"\"role\"\"\" NOSUPERUSER"),
            "{sql}"
        );
        assert!(sql.contains("IS 'it''s $pum$ here'"), "{sql}");
        assert!(
            sql.contains("duplicate_object OR unique_violation"),
            "{sql}"
        );
        assert!(
            sql.ends_with("GRANT \"parent\" TO \"o'dd \"\"role\"\"\";\n"),
            "{sql}"
        );
        assert!(create_sql(&"x".repeat(64), None, None).is_err());
    }

    #[test]
    fn grants_and_revokes_mirror_each_other() {
        for kind in [PermissionType::Read, PermissionType::Write] {
            let grant = grant_sql(kind, "\"s\"", "\"r\"");
            let revoke = revoke_sql(kind, "\"s\"", "\"r\"");
            assert_eq!(grant.lines().count(), 10);
            assert_eq!(revoke.lines().count(), 10);
            assert!(
                grant
                    .lines()
                    .all(|l| l.contains("\"s\"") && l.contains("TO \"r\""))
            );
            assert!(revoke.lines().all(|l| l.contains("FROM \"r\"")));
        }
    }
}
