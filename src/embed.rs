//! Changelogs compiled into a program, so that an application migrates its own database
//! at start-up (what `sqlx::migrate!` and refinery's `embed_migrations!` give).
//!
//! [`embed_changelogs!`](crate::embed_changelogs) reads a project directory when the crate
//! compiles — its `.pum.yaml`, every file of its changelogs directory (SQL files,
//! `APP_ONLY_RELEASE` markers, down files) and the SQL files its application hooks,
//! uninstall hooks and demo data name — and makes an [`Embedded`] of them:
//!
//! ```no_run
//! // "db" in most projects: the directory holding the .pum.yaml, from Cargo.toml.
//! static DB: pum::embed::Embedded = pum::embed_changelogs!("tests/data/library");
//!
//! fn main() -> pum::Result<()> {
//!     let mut client = postgres::Client::connect("host=/run/postgresql dbname=app", postgres::NoTls)
//!         .expect("connect");
//!     let report = DB.migrate(&mut client, &pum::MigrateOptions::default())?;
//!     println!("applied: {:?}", report.applied);
//!     Ok(())
//! }
//! ```
//!
//! The runs are those of the command line and [`Upgrader`]: the same migrations table,
//! the same names and checksums recorded (a database migrated by the program and one
//! migrated by `pum` or Python pum from the same files are interchangeable), the same
//! refusals (changed applied files, parameters, another module), the same migration lock,
//! so several instances of an application starting at once migrate once. They work on the
//! application's own session, which must not be inside a transaction; each run opens and
//! commits its own. With the `tokio` feature the same runs take a
//! `tokio_postgres::Client` (`migrate_async` and its kin).
//!
//! What cannot be compiled in is refused when the crate compiles: Python hooks (they run
//! as files, with a session pum lends them through a socket). Files are read when the
//! crate compiles and tracked, so editing one rebuilds the crate; a file added to or
//! removed from the directory is seen at the next build that runs the macro again, which
//! a build script saying `println!("cargo:rerun-if-changed=db");` makes every build after
//! such a change (as for `sqlx::migrate!`).

use crate::changelog::EmbeddedFiles;
use crate::config::Config;
use crate::error::Result;
use crate::migrate::{Info, MigrateOptions, MigrationReport, NoProgress, Upgrader};

/// A project compiled into the program by [`embed_changelogs!`](crate::embed_changelogs).
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    files: EmbeddedFiles,
}

impl Embedded {
    /// What the macro builds: the project directory as written in the macro (it names the
    /// files in messages) and its files, by path relative to it.
    #[doc(hidden)]
    pub const fn new(dir: &'static str, files: &'static [(&'static str, &'static [u8])]) -> Self {
        Embedded {
            files: EmbeddedFiles::new(dir, files),
        }
    }

    /// The paths of the files compiled in, relative to the project directory.
    pub fn files(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files.paths()
    }

    /// The project's configuration, read from the compiled-in `.pum.yaml`; its changelogs
    /// and hook files are the compiled-in ones.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) as [`Config::parse`].
    pub fn config(&self) -> Result<Config> {
        Config::embedded(self.files)
    }

    /// Installs the project on the database of `client` (creates the migrations table and
    /// applies every changelog), as [`Upgrader::install`].
    ///
    /// # Errors
    /// As [`Upgrader::install`].
    pub fn install(
        &self,
        client: &mut postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        let config = self.config()?;
        Upgrader::on_client(&config, client)?.install(options, &mut NoProgress)
    }

    /// Applies the changelogs above the database's version, as [`Upgrader::upgrade`].
    ///
    /// # Errors
    /// As [`Upgrader::upgrade`].
    pub fn upgrade(
        &self,
        client: &mut postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        let config = self.config()?;
        Upgrader::on_client(&config, client)?.upgrade(options, &mut NoProgress)
    }

    /// What an application wants at start-up: installs the project where nothing is
    /// installed, else upgrades it ([`Upgrader::migrate`]).
    ///
    /// # Errors
    /// As [`Upgrader::install`] and [`Upgrader::upgrade`].
    pub fn migrate(
        &self,
        client: &mut postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        let config = self.config()?;
        Upgrader::on_client(&config, client)?.migrate(options, &mut NoProgress)
    }

    /// Every version of the compiled-in changelogs and of the database's table, as
    /// [`Upgrader::info`].
    ///
    /// # Errors
    /// As [`Upgrader::info`].
    pub fn info(&self, client: &mut postgres::Client) -> Result<Info> {
        let config = self.config()?;
        Upgrader::on_client(&config, client)?.info()
    }

    /// [`Embedded::install`] on a `tokio_postgres::Client`.
    ///
    /// # Errors
    /// As [`Upgrader::install`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn install_async(
        &self,
        client: &tokio_postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        self.on_async(client, options, |upgrader, options| {
            upgrader.install(options, &mut NoProgress)
        })
        .await
    }

    /// [`Embedded::upgrade`] on a `tokio_postgres::Client`.
    ///
    /// # Errors
    /// As [`Upgrader::upgrade`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn upgrade_async(
        &self,
        client: &tokio_postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        self.on_async(client, options, |upgrader, options| {
            upgrader.upgrade(options, &mut NoProgress)
        })
        .await
    }

    /// [`Embedded::migrate`] on a `tokio_postgres::Client`: what an async application runs
    /// at start-up.
    ///
    /// ```no_run
    /// static DB: pum::embed::Embedded = pum::embed_changelogs!("tests/data/library");
    /// # async fn start(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    /// tokio::spawn(connection);
    /// DB.migrate_async(&client, &pum::MigrateOptions::default()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Embedded::migrate`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn migrate_async(
        &self,
        client: &tokio_postgres::Client,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        self.on_async(client, options, |upgrader, options| {
            upgrader.migrate(options, &mut NoProgress)
        })
        .await
    }

    /// [`Embedded::info`] on a `tokio_postgres::Client`.
    ///
    /// # Errors
    /// As [`Upgrader::info`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn info_async(&self, client: &tokio_postgres::Client) -> Result<Info> {
        self.on_async(client, &MigrateOptions::default(), |upgrader, _| {
            upgrader.info()
        })
        .await
    }

    /// Runs `work` with an upgrader whose statements go to `client` (see
    /// `wire::proxy`).
    #[cfg(feature = "tokio")]
    async fn on_async<T: Send + 'static>(
        &self,
        client: &tokio_postgres::Client,
        options: &MigrateOptions,
        work: impl FnOnce(&Upgrader<'_>, &MigrateOptions) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let embedded = *self;
        let options = options.clone();
        crate::wire::proxy::serve(client, move |proxy| {
            let config = embedded.config()?;
            work(&Upgrader::on_sql(&config, proxy)?, &options)
        })
        .await
    }
}
