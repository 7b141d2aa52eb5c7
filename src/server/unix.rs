//! The server on Unix: [`attach`], [`stop`], [`purge`] and [`status`] put together from
//! the layout, the locks and the postmaster's life.

use std::fs::File;
use std::path::Path;

use super::layout::{DATA_LINK, Layout, size_of, sweep_orphaned_memory};
use super::locks::{lock, lock_holders, open_lock};
use super::process::{State, ensure_running, state, stop_postmaster};
use super::{ServerOptions, ServerStatus};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::os_user;

/// What keeps this process attached: the layout, and the shared lock on `clients.lock`
/// (released by the kernel when the process ends, however it ends).
#[derive(Debug)]
pub(super) struct Attachment {
    layout: Layout,
    _clients: File,
}

impl Attachment {
    pub(super) fn spec(&self) -> ConnectionSpec {
        self.layout.spec()
    }

    pub(super) fn dir(&self) -> &Path {
        &self.layout.dir
    }

    pub(super) fn data_dir(&self) -> &Path {
        &self.layout.data
    }

    pub(super) fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match state(&self.layout) {
            State::Up { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

pub(super) fn attach(options: &ServerOptions) -> Result<Attachment> {
    let layout = Layout::resolve(options)?;
    layout.prepare()?;
    sweep_orphaned_memory(&layout);
    let clients_path = layout.lock_path("clients.lock");
    let clients = open_lock(&clients_path)?;
    lock(&clients, &clients_path, true)?;
    let start_path = layout.lock_path("start.lock");
    let start = open_lock(&start_path)?;
    lock(&start, &start_path, false)?;
    let running = ensure_running(&layout);
    drop(start);
    running?;
    Ok(Attachment {
        layout,
        _clients: clients,
    })
}

pub(super) fn stop(options: &ServerOptions) -> Result<bool> {
    let layout = Layout::resolve(options)?;
    if !layout.dir.is_dir() {
        return Ok(false);
    }
    // Nothing is stopped or deleted in a directory someone else could have prepared.
    layout.check_existing()?;
    let start_path = layout.lock_path("start.lock");
    let start = open_lock(&start_path)?;
    lock(&start, &start_path, false)?;
    match state(&layout) {
        State::Up { .. } => {
            stop_postmaster(&layout)?;
            Ok(true)
        }
        State::Down | State::Stale => Ok(false),
    }
}

pub(super) fn purge(options: &ServerOptions) -> Result<bool> {
    let was_running = stop(options)?;
    let layout = Layout::resolve(options)?;
    for path in [Some(&layout.data), layout.memory_home.as_ref()]
        .into_iter()
        .flatten()
    {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
        }
    }
    let link = layout.dir.join(DATA_LINK);
    if link.exists() {
        std::fs::remove_file(&link).map_err(|e| Error::io(&link, e))?;
    }
    Ok(was_running)
}

pub(super) fn status(options: &ServerOptions) -> Result<ServerStatus> {
    let layout = Layout::resolve(options)?;
    let pid = match state(&layout) {
        State::Up { pid, .. } => Some(pid),
        _ => None,
    };
    Ok(ServerStatus {
        clients: lock_holders(&layout.lock_path("clients.lock")),
        dir: layout.dir.clone(),
        relocated: layout.relocated.clone(),
        requested_dir: layout.requested.clone(),
        data_size: size_of(&layout.data),
        data_dir: layout.data.clone(),
        in_memory: layout.memory_home.is_some(),
        url: layout.url(),
        major_version: layout.major,
        pid,
        user: match &layout.account {
            Some(account) => account.name.clone(),
            None => os_user::current_name().unwrap_or_else(|| "(this user)".into()),
        },
    })
}
