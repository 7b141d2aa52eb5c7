//! Operating-system accounts, read from `/etc/passwd` and `/proc` (no libc calls needed).

use std::path::PathBuf;

/// One account of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

fn accounts() -> Vec<Account> {
    let Ok(text) = std::fs::read_to_string("/etc/passwd") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some(Account {
                name: (*fields.first()?).to_string(),
                uid: fields.get(2)?.parse().ok()?,
                gid: fields.get(3)?.parse().ok()?,
                home: PathBuf::from(fields.get(5)?),
            })
        })
        .collect()
}

/// The account called `name`, if it exists.
pub(crate) fn by_name(name: &str) -> Option<Account> {
    accounts().into_iter().find(|a| a.name == name)
}

/// The effective user id of this process.
pub(crate) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved filesystem
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of the account this process runs as.
pub(crate) fn current_name() -> Option<String> {
    let uid = effective_uid()?;
    accounts()
        .into_iter()
        .find(|a| a.uid == uid)
        .map(|a| a.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_with_uid_zero() {
        let root = by_name("root").expect("every Linux system has root");
        assert_eq!(root.uid, 0);
        assert!(by_name("no such user, surely").is_none());
    }

    #[test]
    fn current_user_is_found() {
        let uid = effective_uid().unwrap();
        let name = current_name().unwrap();
        assert_eq!(by_name(&name).unwrap().uid, uid);
    }
}
