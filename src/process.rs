//! Child processes pum starts (pg_dump, psql, hooks, the Python bridge) die with pum:
//! none goes on writing for a pum that was killed.
//!
//! - [`die_with_pum`]: on Linux the kernel sends the child SIGKILL when pum ends, however
//!   it ends (`kill -9` included). Elsewhere nothing (the child ends when its pipes close,
//!   or runs on).
//! - [`own_group`] and [`Group`]: code pum runs (hooks, deltas) gets a process group of its
//!   own, which pum kills whole on every way out of the code's run (success, error,
//!   unwinding), so that what the code started in the background ends with it. A kill of
//!   pum reaches only the code's own process through the kernel: what it started in the
//!   background and detached from it outlives a `kill -9` of pum.

use std::process::Command;

/// Makes the child receive SIGKILL when this process ends (Linux; elsewhere nothing).
///
/// The kernel sends it when the thread that started the child ends: pum starts children
/// from the thread that waits for them.
pub(crate) fn die_with_pum(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::{c_int, c_ulong};
        use std::os::unix::process::CommandExt;
        unsafe extern "C" {
            fn prctl(option: c_int, ...) -> c_int;
            fn getppid() -> c_int;
            fn _exit(status: c_int) -> !;
        }
        const PR_SET_PDEATHSIG: c_int = 1;
        const SIGKILL: c_ulong = 9;
        let parent = std::process::id() as c_int;
        // SAFETY: between fork and exec the closure calls only async-signal-safe
        // functions (prctl, getppid, _exit) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                // pum died before the line above: the signal will never come.
                if getppid() != parent {
                    _exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// Starts the child in a process group of its own (Unix), for [`Group`] to kill.
#[cfg_attr(not(unix), allow(dead_code))] // Hooks run children on Unix only.
pub(crate) fn own_group(command: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    #[cfg(not(unix))]
    let _ = command;
}

/// The process group of a child started with [`own_group`]: killed (SIGKILL) when
/// dropped, or at once with [`Group::kill`].
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Group {
    leader: u32,
    killed: bool,
}

#[cfg_attr(not(unix), allow(dead_code))]
impl Group {
    /// The group whose leader is the child `pid`.
    pub(crate) fn of(pid: u32) -> Group {
        Group {
            leader: pid,
            killed: false,
        }
    }

    /// Kills every process of the group (once: the leader's id may be given to another
    /// process afterwards).
    pub(crate) fn kill(&mut self) {
        if std::mem::replace(&mut self.killed, true) {
            return;
        }
        #[cfg(unix)]
        {
            use std::ffi::c_int;
            unsafe extern "C" {
                fn kill(pid: c_int, signal: c_int) -> c_int;
            }
            const SIGKILL: c_int = 9;
            if let Ok(leader) = c_int::try_from(self.leader)
                && leader > 1
            {
                // SAFETY: kill has no memory effects; a group that is gone gives ESRCH.
                unsafe {
                    kill(-leader, SIGKILL);
                }
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}
