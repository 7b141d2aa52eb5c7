//! Templates and references in `pum_registry.templates`: registered before their build
//! starts, their outcome, who uses them (`pum_registry.template_users`), and which to
//! evict or sweep.

use postgres::GenericClient;

use super::registry_error;
use crate::error::Result;

/// What the registry says of a template.
#[derive(Debug, Clone)]
pub(crate) struct TemplateRecord {
    /// `ready` or `failed`.
    pub status: String,
    /// Why it failed.
    pub message: Option<String>,
    /// Whether the database exists and carries the mark only a finished build leaves
    /// ([`completion_mark`]): a database left by a build that was killed never has it.
    pub complete: bool,
    /// Whether it was built (or failed) within `recent`.
    pub recent: bool,
    /// Seconds since it was built (or failed).
    pub age: i64,
}

/// The comment a finished build leaves on database `name`. It is in the database itself,
/// so it cannot say "ready" of a database that was dropped and half remade since the
/// registry row was written.
pub(crate) fn completion_mark(name: &str) -> String {
    format!("pum: {name} built completely")
}

/// The record of template `name`; `recent` is an SQL interval (`10 minutes`).
pub(crate) fn template(
    client: &mut impl GenericClient,
    name: &str,
    recent: &str,
) -> Result<Option<TemplateRecord>> {
    let row = client
        .query_opt(
            &format!(
                "SELECT t.status, t.message, \
                 EXISTS (SELECT FROM pg_database d WHERE d.datname = t.name \
                         AND shobj_description(d.oid, 'pg_database') = $2), \
                 t.built_at > now() - interval '{recent}', \
                 COALESCE(extract(epoch FROM now() - t.built_at)::bigint, 0) \
                 FROM pum_registry.templates t WHERE t.name = $1"
            ),
            &[&name, &completion_mark(name)],
        )
        .map_err(registry_error)?;
    Ok(row.map(|row| TemplateRecord {
        status: row.get(0),
        message: row.get(1),
        complete: row.get(2),
        recent: row.get(3),
        age: row.get(4),
    }))
}

/// Records that template `name` was used now by `runner` of `project` (so it is not
/// swept as unused, and not evicted while the runner lives). A template whose contents
/// two checkouts share counts in the project that used it last.
pub(crate) fn touch_template(
    client: &mut impl GenericClient,
    name: &str,
    runner: &str,
    project: &str,
) -> Result<()> {
    client
        .execute(
            "WITH used AS (
               INSERT INTO pum_registry.template_users (template, runner) VALUES ($1, $2)
               ON CONFLICT DO NOTHING)
             UPDATE pum_registry.templates SET used_at = now(), project = $3 WHERE name = $1",
            &[&name, &runner, &project],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// Registers template (or reference) `name` of `family` as being built from `source`
/// (what `pum test list` says it is made of), before its database is made: a build
/// killed midway leaves a row the sweep finds ([`unfinished_builds`]), never a database
/// nobody knows of. The builder holds the template's advisory lock meanwhile.
pub(crate) fn begin_build(
    client: &mut impl GenericClient,
    name: &str,
    family: &str,
    project: &str,
    source: &str,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO pum_registry.templates (name, family, project, status, builds, source) \
             VALUES ($1, $2, $3, 'building', 0, $4) \
             ON CONFLICT (name) DO UPDATE SET status = 'building', family = excluded.family, \
             project = excluded.project, source = excluded.source",
            &[&name, &family, &project, &source],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The templates and references whose build started and never ended (their builder may
/// still be at it: it holds the template's advisory lock).
pub(crate) fn unfinished_builds(client: &mut impl GenericClient) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT name FROM pum_registry.templates WHERE status = 'building'",
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Whether template `name` is still recorded as being built.
pub(crate) fn is_building(client: &mut impl GenericClient, name: &str) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT FROM pum_registry.templates \
             WHERE name = $1 AND status = 'building')",
            &[&name],
        )
        .map_err(registry_error)?
        .get(0))
}

/// Records the outcome of a build of template `name`.
pub(crate) fn record_build(
    client: &mut impl GenericClient,
    name: &str,
    family: &str,
    failure: Option<&str>,
) -> Result<()> {
    let status = if failure.is_some() { "failed" } else { "ready" };
    client
        .execute(
            "INSERT INTO pum_registry.templates (name, family, status, message) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET status = excluded.status, message = excluded.message, \
             built_at = now(), used_at = now(), builds = pum_registry.templates.builds + 1",
            &[&name, &family, &status, &failure],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The ready templates of `project` to drop so that at most `cap` remain: first those a
/// newer template of their family replaced, then the least recently used; never
/// `current`, nor one used by a runner whose lease runs (a live runner may clone it).
pub(crate) fn evictable(
    client: &mut impl GenericClient,
    project: &str,
    current: &str,
    cap: i64,
) -> Result<Vec<String>> {
    Ok(client
        .query(
            "WITH mine AS (
               SELECT t.name, t.used_at,
                 EXISTS (SELECT FROM pum_registry.templates n WHERE n.family = t.family
                         AND n.status = 'ready' AND n.built_at > t.built_at) AS replaced
               FROM pum_registry.templates t WHERE t.project = $1 AND t.status = 'ready')
             SELECT name FROM mine
             WHERE name <> $2
               AND NOT EXISTS (
                 SELECT FROM pum_registry.template_users u
                 JOIN pum_registry.runners r ON r.id = u.runner
                 WHERE u.template = mine.name AND r.lease_until > now())
             ORDER BY replaced DESC, used_at, name
             LIMIT greatest(0, (SELECT count(*) FROM mine) - $3)",
            &[&project, &current, &cap],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The templates no test used for `age` (an SQL interval).
pub(crate) fn unused(client: &mut impl GenericClient, age: &str) -> Result<Vec<String>> {
    Ok(client
        .query(
            &format!(
                "SELECT name FROM pum_registry.templates WHERE used_at < now() - interval '{age}' \
                 AND status <> 'building'"
            ),
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Forgets template `name` (after it is dropped).
pub(crate) fn forget_template(client: &mut impl GenericClient, name: &str) -> Result<()> {
    client
        .execute(
            "WITH users AS (DELETE FROM pum_registry.template_users WHERE template = $1) \
             DELETE FROM pum_registry.templates WHERE name = $1",
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// A template or reference as `pum test list` shows it.
#[derive(Debug, Clone)]
pub(crate) struct TemplateRow {
    pub name: String,
    /// `ready`, `failed` or `building`.
    pub status: String,
    /// What it is built from; `None` when a pum before the column built it.
    pub source: Option<String>,
    /// Seconds since it was built (or its build started).
    pub age: i64,
    /// Its size in bytes; `None` when the database does not exist (or may not be read).
    pub size: Option<i64>,
    /// The runners whose lease runs that used it (`host:pid`): a live runner may clone it.
    pub users: Vec<String>,
}

/// Every template and reference of the registry, by name.
pub(crate) fn template_rows(client: &mut impl GenericClient) -> Result<Vec<TemplateRow>> {
    Ok(client
        .query(
            // `source` read through the row's JSON: a registry made before the column
            // (by a runner of an older pum) is read as it is, never altered.
            "SELECT t.name, t.status, to_jsonb(t) ->> 'source', \
             extract(epoch FROM now() - t.built_at)::bigint, \
             (SELECT CASE WHEN has_database_privilege(d.oid, 'CONNECT') \
                     THEN pg_database_size(d.oid) END \
              FROM pg_database d WHERE d.datname = t.name), \
             ARRAY(SELECT r.host || ':' || r.pid FROM pum_registry.template_users u \
                   JOIN pum_registry.runners r ON r.id = u.runner \
                   WHERE u.template = t.name AND r.lease_until > now() \
                   ORDER BY r.host, r.pid) \
             FROM pum_registry.templates t ORDER BY t.name",
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| TemplateRow {
            name: r.get(0),
            status: r.get(1),
            source: r.get(2),
            age: r.get(3),
            size: r.get(4),
            users: r.get(5),
        })
        .collect())
}

/// The live runners (lease running) that used template `name`, as `host:pid`: asked
/// again under the template's advisory lock before it is dropped.
pub(crate) fn live_users(client: &mut impl GenericClient, name: &str) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT r.host || ':' || r.pid FROM pum_registry.template_users u \
             JOIN pum_registry.runners r ON r.id = u.runner \
             WHERE u.template = $1 AND r.lease_until > now() ORDER BY r.host, r.pid",
            &[&name],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}
