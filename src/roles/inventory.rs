//! The inventory: every role that concerns the configured schemas, and what each may do
//! there compared with what the configuration expects.

use std::collections::BTreeSet;

use crate::config::PermissionType;
use crate::connect::ConnectionSpec;
use crate::error::Result;
use crate::wire::Sql;

use super::RoleManager;
use super::catalog::{Access, DbRole, access, all_memberships, all_roles};
use super::in_transaction;
use super::statements::kind_name;

impl RoleManager<'_> {
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
        let seen = Seen {
            roles: all_roles(sql)?,
            access: access(sql, &schemas)?,
            members: all_memberships(sql)?,
        };
        let mut inventory = Inventory::default();
        let known = self.configured_entries(&seen, &mut inventory);
        other_entries(&seen, &schemas, &known, include_superusers, &mut inventory);
        Ok(inventory)
    }

    /// The configured roles found (generic and specific) into `inventory.roles`, those
    /// missing into `inventory.missing`; returns the names found.
    fn configured_entries(&self, seen: &Seen, inventory: &mut Inventory) -> BTreeSet<String> {
        let mut known = BTreeSet::new();
        for role in self.roles {
            let prefix = format!("{}_", role.name);
            let found: Vec<&DbRole> = seen
                .roles
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
                        .map(|(s, expected)| seen.status(&db.name, s, expected))
                        .collect(),
                    member_of: seen.member_of(&db.name),
                    login: db.login,
                    superuser: db.superuser,
                });
                known.insert(db.name.clone());
            }
        }
        known
    }
}

/// What the server holds: its roles, their access to the configured schemas, the
/// memberships.
struct Seen {
    roles: Vec<DbRole>,
    access: Vec<Access>,
    members: Vec<(String, String)>,
}

impl Seen {
    /// The roles `name` is a member of.
    fn member_of(&self, name: &str) -> Vec<String> {
        self.members
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// What `role` may do in `schema`, against what is `expected`.
    fn status(&self, role: &str, schema: &str, expected: Option<PermissionType>) -> SchemaAccess {
        let (read, write) = self
            .access
            .iter()
            .find(|a| a.role == role && a.schema == schema)
            .map_or((false, false), |a| (a.read, a.write));
        SchemaAccess {
            schema: schema.to_string(),
            exists: self.access.iter().any(|a| a.schema == schema),
            expected,
            read,
            write,
        }
    }
}

/// The roles outside the configuration (not `known`, not PostgreSQL's own): those with
/// access to a configured schema (superusers only when asked for) into
/// `inventory.roles`, other login roles into `inventory.other_logins`.
fn other_entries(
    seen: &Seen,
    schemas: &[String],
    known: &BTreeSet<String>,
    include_superusers: bool,
    inventory: &mut Inventory,
) {
    for db in &seen.roles {
        if known.contains(&db.name) || db.name.starts_with("pg_") {
            continue;
        }
        let reaches = seen.access.iter().any(|a| a.role == db.name && a.usage);
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
                schemas: schemas
                    .iter()
                    .map(|s| seen.status(&db.name, s, None))
                    .collect(),
                member_of: seen.member_of(&db.name),
                login: db.login,
                superuser: db.superuser,
            });
        } else if db.login && !db.superuser {
            inventory.other_logins.push(db.name.clone());
        }
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
