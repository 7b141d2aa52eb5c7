//! Per-test databases: their names, and which `CREATE DATABASE … STRATEGY` clones a given
//! template faster, learnt from the first clones of this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::registry::Owner;
use crate::database::{CreateOptions, CreateStrategy, Maintenance};
use crate::error::Result;

/// Which of two clone strategies is faster for a template: each is tried twice, then the
/// one with the lower mean wins.
#[derive(Debug, Default)]
pub(crate) struct StrategyStats {
    file_copy: (Duration, u32),
    wal_log: (Duration, u32),
}

impl StrategyStats {
    /// The strategy for the next clone.
    pub(crate) fn choose(&self) -> CreateStrategy {
        let (fc, wl) = (self.file_copy, self.wal_log);
        if fc.1 < 2 && fc.1 <= wl.1 {
            CreateStrategy::FileCopy
        } else if wl.1 < 2 {
            CreateStrategy::WalLog
        } else if fc.0 / fc.1 <= wl.0 / wl.1 {
            CreateStrategy::FileCopy
        } else {
            CreateStrategy::WalLog
        }
    }

    /// A clone with `strategy` took `took`.
    pub(crate) fn record(&mut self, strategy: CreateStrategy, took: Duration) {
        let slot = match strategy {
            CreateStrategy::FileCopy => &mut self.file_copy,
            CreateStrategy::WalLog => &mut self.wal_log,
        };
        slot.0 += took;
        slot.1 += 1;
    }
}

/// `pum_t_<test>_<unique>`: the test's last path segment (32 characters at most, lower
/// case, other characters as `_`) and a hash unique to this owner, counter and moment;
/// always under PostgreSQL's 63 bytes.
pub(crate) fn test_database_name(owner: &Owner, n: u64, test: &str) -> String {
    let unique = blake3::hash(
        format!(
            "{}/{}/{}/{}/{}/{n}/{:?}",
            owner.runner,
            owner.host,
            owner.boot_id,
            owner.pid,
            owner.started,
            std::time::SystemTime::now()
        )
        .as_bytes(),
    )
    .to_hex()[..10]
        .to_string();
    let short: String = test
        .rsplit("::")
        .next()
        .unwrap_or(test)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    format!("pum_t_{short}_{unique}")
}

/// Makes the clones of this process.
#[derive(Default)]
pub(crate) struct Clones {
    strategies: Mutex<HashMap<String, StrategyStats>>,
    counter: AtomicU64,
}

impl Clones {
    /// A fresh name for a database of `test`.
    pub(crate) fn name(&self, owner: &Owner, test: &str) -> String {
        test_database_name(owner, self.counter.fetch_add(1, Ordering::Relaxed), test)
    }

    /// Creates `name` as a copy of `template` with the strategy that has been faster for it
    /// (on servers that have strategies: PostgreSQL 15 and later).
    pub(crate) fn create(
        &self,
        session: &mut Maintenance,
        name: &str,
        template: &str,
    ) -> Result<()> {
        let strategy = (session.server_version() >= 150000).then(|| {
            self.strategies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(template.to_string())
                .or_default()
                .choose()
        });
        let started = Instant::now();
        session.create(
            name,
            &CreateOptions {
                template: Some(template.to_string()),
                strategy,
                owner: None,
            },
        )?;
        if let Some(strategy) = strategy {
            self.strategies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(template.to_string())
                .or_default()
                .record(strategy, started.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_strategy_is_tried_twice_then_the_faster_wins() {
        let mut stats = StrategyStats::default();
        let ms = Duration::from_millis;
        let mut tried = Vec::new();
        for took in [ms(10), ms(30), ms(12), ms(28)] {
            let strategy = stats.choose();
            tried.push(strategy);
            stats.record(strategy, took);
        }
        use CreateStrategy::{FileCopy, WalLog};
        assert_eq!(tried, [FileCopy, WalLog, FileCopy, WalLog]);
        assert_eq!(stats.choose(), FileCopy);
        stats.record(FileCopy, ms(200));
        assert_eq!(stats.choose(), WalLog);
    }

    #[test]
    fn names_are_short_unique_and_plain() {
        let owner = Owner {
            runner: "r".into(),
            host: "h".into(),
            boot_id: "b".into(),
            pid: 1,
            started: 2,
        };
        let test = "tests::module::A Very-Long test name with ünïcode that goes on and on";
        let a = test_database_name(&owner, 0, test);
        let b = test_database_name(&owner, 1, test);
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(a.starts_with("pum_t_a_very_long_test_name_with_"), "{a}");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
            "{a}"
        );
    }
}
