//! The server on systems other than Unix: there is none. Every function says so, and what
//! to do instead.

use std::path::Path;

use super::{ServerOptions, ServerStatus};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};

/// Never made: nothing can attach here.
#[derive(Debug)]
pub(super) enum Attachment {}

impl Attachment {
    pub(super) fn spec(&self) -> ConnectionSpec {
        match *self {}
    }

    pub(super) fn dir(&self) -> &Path {
        match *self {}
    }

    pub(super) fn data_dir(&self) -> &Path {
        match *self {}
    }

    pub(super) fn socket_dir(&self) -> &Path {
        match *self {}
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match *self {}
    }
}

fn unsupported() -> Error {
    Error::Unsupported {
        message: "pum's ephemeral PostgreSQL server needs a Unix system; set \
                  PUM_TEST_DATABASE_URL (or -p) to a server instead"
            .into(),
    }
}

pub(super) fn attach(_: &ServerOptions) -> Result<Attachment> {
    Err(unsupported())
}

pub(super) fn stop(_: &ServerOptions) -> Result<bool> {
    Err(unsupported())
}

pub(super) fn purge(_: &ServerOptions) -> Result<bool> {
    Err(unsupported())
}

pub(super) fn status(_: &ServerOptions) -> Result<ServerStatus> {
    Err(unsupported())
}
