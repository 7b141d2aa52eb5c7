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

use std::collections::BTreeSet;

use crate::config::{PermissionType, RoleDef};
use crate::connect::ConnectionSpec;
use crate::database::{quote_identifier, quote_literal};
use crate::error::{Error, Result};
use crate::wire::Sql;

/// The roles of a configuration, with the operations Python pum's `RoleManager` has.
#[derive(Debug, Clone, Copy)]
pub struct RoleManager<'a> {
    roles: &'a [RoleDef],
}

/// Which configured roles an operation concerns.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Configured role names; `None` for all of them.
    pub roles: Option<Vec<String>>,
    /// Act on the database-specific roles `<name>_<suffix>` instead of the generic ones.
    pub suffix: Option<String>,
}

/// What an operation noticed and went past (a missing schema, a missing role).
pub type Warnings = Vec<String>;

impl<'a> RoleManager<'a> {
    /// The manager of `roles` (in configuration order: a role comes after the role it
    /// inherits, as the configuration checks).
    pub fn new(roles: &'a [RoleDef]) -> RoleManager<'a> {
        RoleManager { roles }
    }

    /// Whether the configuration declares no role.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The configured roles `selection` names, in configuration order.
    ///
    /// # Errors
    /// [`Error::UnknownRole`] for a name the configuration does not declare.
    fn selected(&self, selection: &Selection) -> Result<Vec<&'a RoleDef>> {
        let Some(names) = &selection.roles else {
            return Ok(self.roles.iter().collect());
        };
        let unknown: BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !self.roles.iter().any(|r| r.name == *n))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::UnknownRole {
                names: unknown.into_iter().collect::<Vec<_>>().join(", "),
                known: self.known(),
            });
        }
        Ok(self
            .roles
            .iter()
            .filter(|r| names.contains(&r.name))
            .collect())
    }

    fn known(&self) -> String {
        if self.roles.is_empty() {
            "none".into()
        } else {
            self.roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    fn parent(&self, role: &RoleDef) -> Option<&'a RoleDef> {
        let parent = role.inherit.as_deref()?;
        self.roles.iter().find(|r| r.name == parent)
    }

    /// Creates the roles (and, with `grant`, grants their permissions), in one transaction.
    ///
    /// # Errors
    /// Connection and server errors; [`Error::InvalidIdentifier`] for a name PostgreSQL
    /// cannot hold (a suffix making it longer than 63 bytes).
    pub fn create(
        &self,
        spec: &ConnectionSpec,
        suffix: Option<&str>,
        grant: bool,
    ) -> Result<Warnings> {
        in_transaction(spec, |sql| self.create_in(sql, suffix, grant))
    }

    /// As [`RoleManager::create`], in the caller's transaction.
    pub(crate) fn create_in(
        &self,
        sql: &mut dyn Sql,
        suffix: Option<&str>,
        grant: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(suffix)?;
        let mut statements = String::new();
        let mut names = Vec::new();
        for role in self.roles {
            if let Some(suffix) = suffix {
                let specific = suffixed(&role.name, Some(suffix));
                let description = role
                    .description
                    .as_ref()
                    .map(|d| format!("{d} (specific to {suffix})"));
                let parent = self.parent(role).map(|p| suffixed(&p.name, Some(suffix)));
                statements.push_str(&create_sql(
                    &specific,
                    description.as_deref(),
                    parent.as_deref(),
                )?);
                names.push(specific);
            }
            let parent = self.parent(role).map(|p| p.name.clone());
            statements.push_str(&create_sql(
                &role.name,
                role.description.as_deref(),
                parent.as_deref(),
            )?);
            names.push(role.name.clone());
        }
        run(sql, &statements, "create the roles")?;
        if !grant {
            return Ok(Vec::new());
        }
        // With a suffix only the specific roles get the permissions.
        let selection = Selection {
            roles: None,
            suffix: suffix.map(str::to_string),
        };
        self.grant_in(sql, &selection, false)
    }

    /// Grants the selected roles' permissions on their schemas, in one transaction;
    /// returns what was skipped.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors.
    pub fn grant(&self, spec: &ConnectionSpec, selection: &Selection) -> Result<Warnings> {
        in_transaction(spec, |sql| self.grant_in(sql, selection, true))
    }

    /// As [`RoleManager::grant`], in the caller's transaction. With `skip_missing`, roles
    /// that do not exist are left out with a warning.
    pub(crate) fn grant_in(
        &self,
        sql: &mut dyn Sql,
        selection: &Selection,
        skip_missing: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let roles = self.selected(selection)?;
        let mut warnings = Vec::new();
        let schemas: Vec<&str> = roles
            .iter()
            .flat_map(|r| r.permissions.iter())
            .flat_map(|p| p.schemas.iter().map(String::as_str))
            .collect();
        let existing = existing_schemas(sql, &schemas)?;
        let types = grantable_types(sql, &existing)?;
        let present = if skip_missing {
            let names: Vec<String> = roles.iter().map(|r| suffixed(&r.name, suffix)).collect();
            existing_roles(sql, &names)?
        } else {
            BTreeSet::new()
        };
        let mut statements = String::new();
        for role in roles {
            let name = suffixed(&role.name, suffix);
            if skip_missing && !present.contains(&name) {
                warnings.push(format!("role {name} does not exist: not granted"));
                continue;
            }
            let role_q = quote_identifier("role", &name)?;
            for permission in &role.permissions {
                for schema in &permission.schemas {
                    if !existing.contains(schema.as_str()) {
                        warnings.push(format!(
                            "schema {schema} does not exist: {} permission not granted to {name}",
                            kind_name(permission.kind)
                        ));
                        continue;
                    }
                    let schema_q = quote_identifier("schema", schema)?;
                    statements.push_str(&grant_sql(permission.kind, &schema_q, &role_q));
                    for typ in types.iter().filter(|(s, _)| s == schema) {
                        statements.push_str(&format!(
                            "GRANT {} ON TYPE {schema_q}.{} TO {role_q};\n",
                            type_privilege(permission.kind),
                            quote_identifier("type", &typ.1)?
                        ));
                    }
                }
            }
        }
        run(sql, &statements, "grant the roles' permissions")?;
        Ok(warnings)
    }

    /// Takes back the selected roles' permissions (and what the roles they inherit were
    /// given) and their memberships, in one transaction.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors.
    pub fn revoke(&self, spec: &ConnectionSpec, selection: &Selection) -> Result<Warnings> {
        in_transaction(spec, |sql| self.revoke_in(sql, selection, true))
    }

    /// Revokes; `missing` says whether a role that does not exist is worth a warning.
    fn revoke_in(
        &self,
        sql: &mut dyn Sql,
        selection: &Selection,
        missing: bool,
    ) -> Result<Warnings> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let roles = self.selected(selection)?;
        let names: Vec<String> = roles.iter().map(|r| suffixed(&r.name, suffix)).collect();
        let present = existing_roles(sql, &names)?;
        let mut warnings = Vec::new();
        let mut statements = String::new();
        let mut schemas = Vec::new();
        for role in &roles {
            let mut ancestor = Some(*role);
            while let Some(r) = ancestor {
                schemas.extend(
                    r.permissions
                        .iter()
                        .flat_map(|p| p.schemas.iter().map(String::as_str)),
                );
                ancestor = self.parent(r);
            }
        }
        let existing = existing_schemas(sql, &schemas)?;
        for (role, name) in roles.iter().zip(&names) {
            if !present.contains(name) {
                if missing {
                    warnings.push(format!("role {name} does not exist: nothing to revoke"));
                }
                continue;
            }
            let role_q = quote_identifier("role", name)?;
            let mut ancestor = Some(*role);
            while let Some(r) = ancestor {
                for permission in &r.permissions {
                    for schema in &permission.schemas {
                        if !existing.contains(schema.as_str()) {
                            warnings.push(format!(
                                "schema {schema} does not exist: nothing to revoke from {name}"
                            ));
                            continue;
                        }
                        let schema_q = quote_identifier("schema", schema)?;
                        statements.push_str(&revoke_sql(permission.kind, &schema_q, &role_q));
                    }
                }
                ancestor = self.parent(r);
            }
            for parent in memberships(sql, name)? {
                statements.push_str(&format!(
                    "REVOKE {} FROM {role_q};\n",
                    quote_identifier("role", &parent)?
                ));
            }
        }
        run(sql, &statements, "revoke the roles' permissions")?;
        Ok(warnings)
    }

    /// Revokes, then drops the selected roles (generic, or with a suffix the specific
    /// ones only), in one transaction. With `force`, what a role owns in this database is
    /// reassigned to the current user and its remaining privileges dropped first.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors (a role that other databases still grant
    /// something to cannot be dropped).
    pub fn drop(
        &self,
        spec: &ConnectionSpec,
        selection: &Selection,
        force: bool,
    ) -> Result<Warnings> {
        in_transaction(spec, |sql| {
            let mut warnings = self.revoke_in(sql, selection, false)?;
            let suffix = check_suffix(selection.suffix.as_deref())?;
            let names: Vec<String> = self
                .selected(selection)?
                .iter()
                .map(|r| suffixed(&r.name, suffix))
                .collect();
            let present = existing_roles(sql, &names)?;
            let mut statements = String::new();
            for name in &names {
                if !present.contains(name) {
                    warnings.push(format!("role {name} does not exist: not dropped"));
                    continue;
                }
                let role_q = quote_identifier("role", name)?;
                if force {
                    statements.push_str(&format!(
                        "REASSIGN OWNED BY {role_q} TO CURRENT_USER;\nDROP OWNED BY {role_q};\n"
                    ));
                }
                statements.push_str(&format!("DROP ROLE IF EXISTS {role_q};\n"));
            }
            run(sql, &statements, "drop the roles")?;
            Ok(warnings)
        })
    }

    /// Makes `to` a member of the selected roles, in one transaction.
    ///
    /// # Errors
    /// [`Error::UnknownRole`]; server errors (`to` does not exist).
    pub fn grant_to(&self, spec: &ConnectionSpec, to: &str, selection: &Selection) -> Result<()> {
        self.membership(spec, to, selection, "GRANT", "TO")
    }

    /// Takes `from`'s membership in the selected roles away, in one transaction.
    ///
    /// # Errors
    /// As [`RoleManager::grant_to`].
    pub fn revoke_from(
        &self,
        spec: &ConnectionSpec,
        from: &str,
        selection: &Selection,
    ) -> Result<()> {
        self.membership(spec, from, selection, "REVOKE", "FROM")
    }

    fn membership(
        &self,
        spec: &ConnectionSpec,
        member: &str,
        selection: &Selection,
        verb: &str,
        preposition: &str,
    ) -> Result<()> {
        let suffix = check_suffix(selection.suffix.as_deref())?;
        let member_q = quote_identifier("role", member)?;
        let mut statements = String::new();
        for role in self.selected(selection)? {
            statements.push_str(&format!(
                "{verb} {} {preposition} {member_q};\n",
                quote_identifier("role", &suffixed(&role.name, suffix))?
            ));
        }
        in_transaction(spec, |sql| {
            run(
                sql,
                &statements,
                &format!("{} {member}", verb.to_lowercase()),
            )
        })
    }

    /// Every role that concerns the configured schemas: the configured roles (generic and
    /// specific), the roles granted them, other roles with access, other login roles.
    ///
    /// # Errors
    /// Connection and server errors.
    pub fn inventory(&self, spec: &ConnectionSpec, include_superusers: bool) -> Result<Inventory> {
        in_transaction(spec, |sql| self.inventory_in(sql, include_superusers))
    }

    fn inventory_in(&self, sql: &mut dyn Sql, include_superusers: bool) -> Result<Inventory> {
        let mut schemas: Vec<String> = self
            .roles
            .iter()
            .flat_map(|r| r.permissions.iter())
            .flat_map(|p| p.schemas.iter().cloned())
            .collect();
        schemas.sort();
        schemas.dedup();
        let all = all_roles(sql)?;
        let access = access(sql, &schemas)?;
        let members = all_memberships(sql)?;
        let of = |name: &str| -> Vec<String> {
            members
                .iter()
                .filter(|(m, _)| m == name)
                .map(|(_, r)| r.clone())
                .collect()
        };
        let status = |role: &str, schema: &str, expected: Option<PermissionType>| {
            let (read, write) = access
                .iter()
                .find(|a| a.role == role && a.schema == schema)
                .map_or((false, false), |a| (a.read, a.write));
            SchemaAccess {
                schema: schema.to_string(),
                exists: access.iter().any(|a| a.schema == schema),
                expected,
                read,
                write,
            }
        };
        let mut inventory = Inventory::default();
        let mut known = BTreeSet::new();
        for role in self.roles {
            let prefix = format!("{}_", role.name);
            let found: Vec<&DbRole> = all
                .iter()
                .filter(|r| r.name == role.name || r.name.starts_with(&prefix))
                .collect();
            if !found.iter().any(|r| r.name == role.name) {
                inventory.missing.push(role.name.clone());
            }
            let has_specific = found.iter().any(|r| r.name != role.name);
            for db in found {
                // With specific roles about, the generic one holds no permission on purpose.
                let check = !(has_specific && db.name == role.name);
                inventory.roles.push(RoleStatus {
                    name: db.name.clone(),
                    configured: Some(role.name.clone()),
                    suffix: db.name.strip_prefix(&prefix).unwrap_or("").to_string(),
                    schemas: role
                        .permissions
                        .iter()
                        .flat_map(|p| p.schemas.iter().map(move |s| (s, check.then_some(p.kind))))
                        .map(|(s, expected)| status(&db.name, s, expected))
                        .collect(),
                    member_of: of(&db.name),
                    login: db.login,
                    superuser: db.superuser,
                });
                known.insert(db.name.clone());
            }
        }
        for db in &all {
            if known.contains(&db.name) || db.name.starts_with("pg_") {
                continue;
            }
            let reaches = access.iter().any(|a| a.role == db.name && a.usage);
            let listed = if db.superuser {
                include_superusers && !schemas.is_empty()
            } else {
                reaches
            };
            if listed {
                inventory.roles.push(RoleStatus {
                    name: db.name.clone(),
                    configured: None,
                    suffix: String::new(),
                    schemas: schemas.iter().map(|s| status(&db.name, s, None)).collect(),
                    member_of: of(&db.name),
                    login: db.login,
                    superuser: db.superuser,
                });
            } else if db.login && !db.superuser {
                inventory.other_logins.push(db.name.clone());
            }
        }
        Ok(inventory)
    }
}

/// A role of the database, in an [`Inventory`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleStatus {
    /// The role's name.
    pub name: String,
    /// The configured role it stands for (`None`: not one of the configuration's).
    pub configured: Option<String>,
    /// The suffix of a database-specific role (empty for a generic one).
    pub suffix: String,
    /// What it may do in each schema concerned.
    pub schemas: Vec<SchemaAccess>,
    /// The roles it is a member of.
    pub member_of: Vec<String>,
    /// Whether it can log in.
    pub login: bool,
    /// Whether it is a superuser.
    pub superuser: bool,
}

impl RoleStatus {
    /// Whether every expected permission is there.
    pub fn satisfied(&self) -> bool {
        self.schemas.iter().all(SchemaAccess::satisfied)
    }
}

/// What a role may do in one schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaAccess {
    /// The schema.
    pub schema: String,
    /// Whether the schema exists.
    pub exists: bool,
    /// The permission the configuration gives (`None`: nothing expected).
    #[serde(serialize_with = "serialize_kind")]
    pub expected: Option<PermissionType>,
    /// USAGE on the schema and SELECT on all its tables, views and materialized views.
    pub read: bool,
    /// CREATE on the schema and INSERT, UPDATE, DELETE on all its tables.
    pub write: bool,
}

fn serialize_kind<S: serde::Serializer>(
    kind: &Option<PermissionType>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => s.serialize_str(kind_name(*kind)),
        None => s.serialize_none(),
    }
}

impl SchemaAccess {
    /// Whether the expected permission is there.
    pub fn satisfied(&self) -> bool {
        match self.expected {
            Some(PermissionType::Read) => self.read,
            Some(PermissionType::Write) => self.write,
            None => true,
        }
    }
}

/// The roles concerning a configuration's schemas ([`RoleManager::inventory`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    /// Configured roles found (generic and specific), then other roles with access to a
    /// configured schema.
    pub roles: Vec<RoleStatus>,
    /// Configured roles that do not exist.
    pub missing: Vec<String>,
    /// Login roles (not superusers) with no access to any configured schema.
    pub other_logins: Vec<String>,
}

impl Inventory {
    /// The configuration's roles.
    pub fn configured(&self) -> impl Iterator<Item = &RoleStatus> {
        self.roles.iter().filter(|r| r.configured.is_some())
    }

    fn configured_names(&self) -> BTreeSet<&str> {
        self.configured().map(|r| r.name.as_str()).collect()
    }

    /// Roles outside the configuration that are members of a configured role.
    pub fn grantees(&self) -> impl Iterator<Item = &RoleStatus> {
        let configured = self.configured_names();
        self.roles.iter().filter(move |r| {
            r.configured.is_none() && r.member_of.iter().any(|m| configured.contains(m.as_str()))
        })
    }

    /// Roles outside the configuration with access to a configured schema, not members
    /// of a configured role.
    pub fn others(&self) -> impl Iterator<Item = &RoleStatus> {
        let configured = self.configured_names();
        self.roles.iter().filter(move |r| {
            r.configured.is_none() && !r.member_of.iter().any(|m| configured.contains(m.as_str()))
        })
    }
}

/// Creates a LOGIN role; a password is hashed here (SCRAM-SHA-256) and only the hash is
/// sent.
///
/// # Errors
/// [`Error::InvalidIdentifier`]; [`Error::AlreadyExists`] when the role exists; server
/// errors.
pub fn create_login(spec: &ConnectionSpec, name: &str, password: Option<&str>) -> Result<()> {
    let role = quote_identifier("role", name)?;
    let mut sql = format!("CREATE ROLE {role} LOGIN");
    if let Some(password) = password {
        let hash = postgres_protocol::password::scram_sha_256(password.as_bytes());
        sql.push_str(&format!(" PASSWORD {}", quote_literal(&hash)));
    }
    in_transaction(spec, |s| {
        s.batch(&sql).map_err(|e| {
            if e.code.as_deref() == Some("42710") {
                Error::AlreadyExists {
                    kind: "role",
                    name: name.to_string(),
                }
            } else {
                Error::server(format!("create login role {name}"), &e)
            }
        })
    })
}

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

/// Drops `role`: what it owns in the database `spec` names is reassigned to
/// `reassign_to` (or dropped with it), its privileges there are dropped, then the role.
/// Returns whether it existed (a missing role is no error).
///
/// # Errors
/// [`Error::InvalidIdentifier`]; [`Error::Refused`] for the role `spec` connects as;
/// server errors (objects or privileges in other databases keep a role: the server names
/// them).
pub fn drop_role(spec: &ConnectionSpec, role: &str, reassign_to: Option<&str>) -> Result<bool> {
    let role_q = quote_identifier("role", role)?;
    let target = reassign_to
        .map(|r| quote_identifier("role", r))
        .transpose()?;
    if role == spec.user() {
        return Err(Error::Refused {
            operation: format!("drop role {role}"),
            reason: "it is the role this connection uses".into(),
        });
    }
    in_transaction(spec, |sql| {
        if existing_roles(sql, &[role.to_string()])?.is_empty() {
            return Ok(false);
        }
        let mut statements = String::new();
        if let Some(target) = &target {
            statements.push_str(&format!("REASSIGN OWNED BY {role_q} TO {target};\n"));
        }
        statements.push_str(&format!("DROP OWNED BY {role_q};\nDROP ROLE {role_q};\n"));
        run(sql, &statements, &format!("drop role {role}"))?;
        Ok(true)
    })
}

/// Drops a role (`DROP ROLE IF EXISTS`); returns whether it existed.
///
/// # Errors
/// [`Error::InvalidIdentifier`]; server errors (the role still owns something).
pub fn drop_login(spec: &ConnectionSpec, name: &str) -> Result<bool> {
    let role = quote_identifier("role", name)?;
    in_transaction(spec, |sql| {
        let existed = !existing_roles(sql, &[name.to_string()])?.is_empty();
        run(sql, &format!("DROP ROLE IF EXISTS {role}"), "drop the role")?;
        Ok(existed)
    })
}

/// The login roles that are not superusers (nor PostgreSQL's own `pg_*`), sorted.
///
/// # Errors
/// Connection and server errors.
pub fn login_roles(spec: &ConnectionSpec) -> Result<Vec<String>> {
    in_transaction(spec, |sql| {
        Ok(all_roles(sql)?
            .into_iter()
            .filter(|r| r.login && !r.superuser && !r.name.starts_with("pg_"))
            .map(|r| r.name)
            .collect())
    })
}

/// The login roles that are members of `role`, sorted.
///
/// # Errors
/// Connection and server errors.
pub fn members_of(spec: &ConnectionSpec, role: &str) -> Result<Vec<String>> {
    in_transaction(spec, |sql| {
        let rows = sql
            .rows(&format!(
                "SELECT m.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
                 JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = {} AND m.rolcanlogin \
                 ORDER BY 1",
                quote_literal(role)
            ))
            .map_err(|e| Error::server("read the role's members", &e))?;
        Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
    })
}

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

fn run(sql: &mut dyn Sql, statements: &str, doing: &str) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    sql.batch(statements).map_err(|e| Error::server(doing, &e))
}

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

fn kind_name(kind: PermissionType) -> &'static str {
    match kind {
        PermissionType::Read => "read",
        PermissionType::Write => "write",
    }
}

fn type_privilege(kind: PermissionType) -> &'static str {
    match kind {
        PermissionType::Read => "USAGE",
        PermissionType::Write => "ALL",
    }
}

/// Creates `name` unless it exists (also when another session creates it at the same
/// moment), comments it, and makes it a member of `parent`.
fn create_sql(name: &str, description: Option<&str>, parent: Option<&str>) -> Result<String> {
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

fn grant_sql(kind: PermissionType, schema: &str, role: &str) -> String {
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

fn revoke_sql(kind: PermissionType, schema: &str, role: &str) -> String {
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

/// `ARRAY['a','b']::text[]` of quoted literals.
fn text_array<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    let items: Vec<String> = items.into_iter().map(quote_literal).collect();
    format!("ARRAY[{}]::text[]", items.join(","))
}

fn existing_schemas<'s>(sql: &mut dyn Sql, schemas: &[&'s str]) -> Result<BTreeSet<&'s str>> {
    if schemas.is_empty() {
        return Ok(BTreeSet::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY({})",
            text_array(schemas.iter().copied())
        ))
        .map_err(|e| Error::server("read the schemas", &e))?;
    let found: BTreeSet<String> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
    Ok(schemas
        .iter()
        .copied()
        .filter(|s| found.contains(*s))
        .collect())
}

/// The types of `schemas` that default privileges would cover: not arrays, not the row
/// types of tables, views and sequences (but standalone composite types).
fn grantable_types(sql: &mut dyn Sql, schemas: &BTreeSet<&str>) -> Result<Vec<(String, String)>> {
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT n.nspname, t.typname FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace \
             LEFT JOIN pg_class c ON c.oid = t.typrelid \
             WHERE n.nspname = ANY({}) AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm') \
             AND NOT (t.typelem <> 0 AND t.typlen = -1) \
             AND (t.typrelid = 0 OR c.relkind = 'c') ORDER BY 1, 2",
            text_array(schemas.iter().copied())
        ))
        .map_err(|e| Error::server("read the schemas' types", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect())
}

fn existing_roles(sql: &mut dyn Sql, names: &[String]) -> Result<BTreeSet<String>> {
    if names.is_empty() {
        return Ok(BTreeSet::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY({})",
            text_array(names.iter().map(String::as_str))
        ))
        .map_err(|e| Error::server("read the roles", &e))?;
    Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
}

/// The roles `name` is a member of, sorted.
fn memberships(sql: &mut dyn Sql, name: &str) -> Result<Vec<String>> {
    let rows = sql
        .rows(&format!(
            "SELECT r.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
             JOIN pg_roles m ON m.oid = am.member WHERE m.rolname = {} ORDER BY 1",
            quote_literal(name)
        ))
        .map_err(|e| Error::server("read the role's memberships", &e))?;
    Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
}

/// (member, role) for every membership.
fn all_memberships(sql: &mut dyn Sql) -> Result<Vec<(String, String)>> {
    let rows = sql
        .rows(
            "SELECT m.rolname, r.rolname FROM pg_auth_members am \
             JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member \
             ORDER BY 1, 2",
        )
        .map_err(|e| Error::server("read the memberships", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect())
}

struct DbRole {
    name: String,
    login: bool,
    superuser: bool,
}

fn all_roles(sql: &mut dyn Sql) -> Result<Vec<DbRole>> {
    let rows = sql
        .rows("SELECT rolname, rolcanlogin::text, rolsuper::text FROM pg_roles ORDER BY 1")
        .map_err(|e| Error::server("read the roles", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(DbRole {
                name: r[0].clone()?,
                login: r[1].as_deref() == Some("true"),
                superuser: r[2].as_deref() == Some("true"),
            })
        })
        .collect())
}

/// What one role may do in one schema.
struct Access {
    role: String,
    schema: String,
    read: bool,
    write: bool,
    usage: bool,
}

/// The access of every role to every existing schema of `schemas`, in one query.
fn access(sql: &mut dyn Sql, schemas: &[String]) -> Result<Vec<Access>> {
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT r.rolname, n.nspname, \
             (has_schema_privilege(r.oid, n.oid, 'USAGE') AND coalesce((SELECT \
               bool_and(has_table_privilege(r.oid, c.oid, 'SELECT')) FROM pg_class c \
               WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'v', 'm', 'p')), true))::text, \
             (has_schema_privilege(r.oid, n.oid, 'CREATE') AND coalesce((SELECT \
               bool_and(has_table_privilege(r.oid, c.oid, 'INSERT') AND \
               has_table_privilege(r.oid, c.oid, 'UPDATE') AND \
               has_table_privilege(r.oid, c.oid, 'DELETE')) FROM pg_class c \
               WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')), true))::text, \
             has_schema_privilege(r.oid, n.oid, 'USAGE')::text \
             FROM pg_roles r CROSS JOIN pg_namespace n WHERE n.nspname = ANY({}) ORDER BY 1, 2",
            text_array(schemas.iter().map(String::as_str))
        ))
        .map_err(|e| Error::server("read the roles' access", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Access {
                role: r[0].clone()?,
                schema: r[1].clone()?,
                read: r[2].as_deref() == Some("true"),
                write: r[3].as_deref() == Some("true"),
                usage: r[4].as_deref() == Some("true"),
            })
        })
        .collect())
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

    #[test]
    fn suffixes_and_selections() {
        assert_eq!(suffixed("viewer", Some("lausanne")), "viewer_lausanne");
        assert!(check_suffix(Some("")).is_err());
        let roles = vec![RoleDef {
            name: "viewer".into(),
            permissions: Vec::new(),
            inherit: None,
            description: None,
        }];
        let manager = RoleManager::new(&roles);
        let err = manager
            .selected(&Selection {
                roles: Some(vec!["viewr".into(), "viewer".into()]),
                suffix: None,
            })
            .unwrap_err()
            .to_string();
        assert_eq!(err, "unknown role(s): viewr (configured roles: viewer)");
    }
}
