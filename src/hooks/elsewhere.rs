//! Off Unix there is no private socket to lend the session through: the [`Runner`] there
//! refuses every Python and executable hook.

use super::code::Code;
use crate::error::{Error, Result};
use crate::wire::RawSession;

/// Off Unix there is no private socket to lend the session through.
#[cfg(not(unix))]
#[derive(Default)]
pub(crate) struct Runner;

#[cfg(not(unix))]
impl Runner {
    /// Nothing to start ahead: the run refuses the code.
    pub(crate) fn preload(&mut self, _: &crate::connect::ConnectionSpec, _: &[Code<'_>]) {}

    /// Refuses: code runs on Unix systems only.
    pub(crate) fn run(
        &mut self,
        _: &mut RawSession,
        code: &Code<'_>,
        _: &mut dyn FnMut(&str),
    ) -> Result<()> {
        Err(Error::Unsupported {
            message: format!(
                "{}: Python and executable code runs on Unix systems only (pum lends it its \
                 session through a Unix socket)",
                code.shown
            ),
        })
    }
}
