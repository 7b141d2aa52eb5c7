//! What a caller asks of a run: [`MigrateOptions`] (install, upgrade), and the options of
//! downgrade, baseline and the application alone.

use std::time::Duration;

use crate::version::Version;

/// How a run is split into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionMode {
    /// One transaction for the whole run (the default).
    #[default]
    Whole,
    /// One transaction per version.
    PerVersion,
    /// One transaction per file, as pum 0.x runs delta files (delta directories only).
    PerFile,
}

/// Options of [`Upgrader::install`](super::Upgrader::install) and [`Upgrader::upgrade`](super::Upgrader::upgrade).
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Apply versions up to this one (inclusive); all when `None`.
    pub max_version: Option<Version>,
    /// Parameter values given by name, as text (overriding the defaults).
    pub parameters: Vec<(String, String)>,
    /// Record the versions as beta testing: later upgrades then need `force`.
    pub beta_testing: bool,
    /// Upgrade a database installed in beta-testing mode.
    pub force: bool,
    /// Do not require every version at or below the current one to be recorded.
    pub skip_baseline_check: bool,
    /// Fail (instead of warn) when an applied file changed since.
    pub strict: bool,
    /// Transactions.
    pub transaction: TransactionMode,
    /// How long to wait for another pum working on the same migrations table (pum's
    /// advisory lock; the CLI's `--migration-lock-wait`).
    pub lock_timeout: Duration,
    /// PostgreSQL's `lock_timeout` for the run's session (the CLI's `--lock-timeout`):
    /// a statement that waits longer than this for a table's lock fails with SQLSTATE
    /// 55P03, the run rolls back, and the error names the sessions that held the lock.
    /// `None`: the configuration's `pum.lock_timeout`, else no limit. Not applied to the
    /// application's own client ([`Upgrader::on_client`](super::Upgrader::on_client)),
    /// whose settings pum leaves as they are.
    pub statement_lock_timeout: Option<Duration>,
    /// PostgreSQL's `statement_timeout` for the run's session (`--statement-timeout`):
    /// a statement that runs longer fails with SQLSTATE 57014, and the run rolls back.
    /// `None`: the configuration's `pum.statement_timeout`, else no limit.
    pub statement_timeout: Option<Duration>,
    /// How many times a run that failed on a lock timeout (or on a statement timeout while
    /// waiting for a lock) is tried again, after an exponential backoff with jitter, each
    /// retry told to [`Progress::message`](super::Progress::message). `None`: the
    /// configuration's `pum.lock_retries`, else 0.
    pub lock_retries: Option<u32>,
    /// Do not run the application's drop hooks.
    pub skip_drop_app: bool,
    /// Do not run the application's create hooks.
    pub skip_create_app: bool,
    /// Do not create the configuration's roles (grants go to those that exist).
    pub skip_roles: bool,
    /// Do not grant the roles their permissions.
    pub skip_grant: bool,
    /// Load this demo data set after the install (install only).
    pub demo_data: Option<String>,
    /// Install although another schema holds a migrations table.
    pub allow_multiple_modules: bool,
    /// Upgrade only: record the pending versions (with their files and checksums) without
    /// running them, their hooks or grants, for a database that holds them already (the
    /// one `pum new --autogenerate` read; Alembic's `stamp`, Django's `--fake`).
    pub record_only: bool,
}

impl Default for MigrateOptions {
    fn default() -> MigrateOptions {
        MigrateOptions {
            max_version: None,
            parameters: Vec::new(),
            beta_testing: false,
            force: false,
            skip_baseline_check: false,
            strict: false,
            transaction: TransactionMode::Whole,
            lock_timeout: Duration::from_secs(60),
            statement_lock_timeout: None,
            statement_timeout: None,
            lock_retries: None,
            skip_drop_app: false,
            skip_create_app: false,
            skip_roles: false,
            skip_grant: false,
            demo_data: None,
            allow_multiple_modules: false,
            record_only: false,
        }
    }
}

/// Options of [`Upgrader::downgrade`](super::Upgrader::downgrade).
#[derive(Debug, Clone)]
pub struct DowngradeOptions {
    /// Downgrade although the database holds beta-testing versions.
    pub force: bool,
    /// Do not run the application's drop hooks first.
    pub skip_drop_app: bool,
    /// Do not run the application's create hooks at the end.
    pub skip_create_app: bool,
    /// Do not grant the roles their permissions at the end.
    pub skip_grant: bool,
    /// How long to wait for another pum working on the same migrations table.
    pub lock_timeout: Duration,
}

impl Default for DowngradeOptions {
    fn default() -> DowngradeOptions {
        DowngradeOptions {
            force: false,
            skip_drop_app: false,
            skip_create_app: false,
            skip_grant: false,
            lock_timeout: Duration::from_secs(60),
        }
    }
}

/// Options of [`Upgrader::baseline`](super::Upgrader::baseline).
#[derive(Debug, Clone, Copy, Default)]
pub struct BaselineOptions {
    /// Create the migrations table when it does not exist.
    pub create_table: bool,
    /// Create it although another schema holds a migrations table.
    pub allow_multiple_modules: bool,
}

/// What [`Upgrader::application`](super::Upgrader::application) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAction {
    /// Run the drop hooks.
    Drop,
    /// Run the create hooks, then grant.
    Create,
    /// Drop, then create.
    Recreate,
}

/// Options of [`Upgrader::application`](super::Upgrader::application) and [`Upgrader::uninstall`](super::Upgrader::uninstall).
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Parameter values given by name, as text (overriding the defaults).
    pub parameters: Vec<(String, String)>,
    /// Do not grant the roles their permissions after the create hooks.
    pub skip_grant: bool,
    /// Grant the database-specific roles with this suffix instead of the generic ones.
    pub suffix: Option<String>,
    /// How long to wait for another pum working on the same migrations table.
    pub lock_timeout: Duration,
}

impl Default for AppOptions {
    fn default() -> AppOptions {
        AppOptions {
            parameters: Vec::new(),
            skip_grant: false,
            suffix: None,
            lock_timeout: Duration::from_secs(60),
        }
    }
}
