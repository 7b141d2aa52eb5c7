//! Per-test databases: their names, which `CREATE DATABASE … STRATEGY` clones a given
//! template faster, and whether spare clones of it pay, learnt from the clones and tests
//! of this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
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

/// Whether making spare clones of a template ahead of its tests pays, from how long its
/// clones and its tests' bodies take (each a moving average, the latest weighing an
/// eighth) and how many tests the process runs at once. A spare is made while tests
/// run; it pays when the server has time for it then: when the process runs fewer tests
/// at once than this machine has cores (the server is the ephemeral one here, or a CI
/// service beside the tests), or while the bodies last at least as long as a clone.
/// Otherwise (as many tests as cores, each running a query) the tests' own clones keep
/// the server busy: a spare is seldom ready before the next test wants one, which clones
/// for itself, and the spare only competes with that clone (on 2 cores, such tests ran
/// 3–10 % slower with spares than without). A process judges once it has timed
/// [`JUDGED_AFTER`] bodies of the template: before that, spares are made (so a test run
/// as its own process, as cargo nextest does, makes them for the next).
#[derive(Debug, Default)]
pub(crate) struct SparePolicy {
    clone: Option<Duration>,
    body: Option<Duration>,
    bodies: u32,
}

/// How many bodies of a template a process times before it judges whether spares pay.
pub(crate) const JUDGED_AFTER: u32 = 4;

impl SparePolicy {
    /// A clone of the template took `took`.
    pub(crate) fn cloned(&mut self, took: Duration) {
        self.clone = Some(moving_average(self.clone, took));
    }

    /// A test's body on a clone of the template took `took`.
    pub(crate) fn ran(&mut self, took: Duration) {
        self.body = Some(moving_average(self.body, took));
        self.bodies = self.bodies.saturating_add(1);
    }

    /// Whether spares should be made for the next tests, when the process runs `at_once`
    /// tests at once and this machine has `cores` cores.
    pub(crate) fn spares_pay(&self, at_once: usize, cores: usize) -> bool {
        if self.bodies < JUDGED_AFTER || at_once < cores {
            return true;
        }
        match (self.clone, self.body) {
            (Some(clone), Some(body)) => body >= clone,
            _ => true,
        }
    }
}

/// `average` moved an eighth of the way to `sample` (the first sample as it is).
fn moving_average(average: Option<Duration>, sample: Duration) -> Duration {
    match average {
        None => sample,
        Some(average) if sample >= average => average + (sample - average) / 8,
        Some(average) => average - (average - sample) / 8,
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
    templates: Mutex<HashMap<String, Learnt>>,
    counter: AtomicU64,
}

/// What this process has learnt of a template's clones.
#[derive(Debug, Default)]
struct Learnt {
    strategy: StrategyStats,
    spares: SparePolicy,
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
        let strategy = (session.server_version() >= 150000)
            .then(|| self.learnt(template, |learnt| learnt.strategy.choose()));
        let started = Instant::now();
        session.create(
            name,
            &CreateOptions {
                template: Some(template.to_string()),
                strategy,
                owner: None,
            },
        )?;
        let took = started.elapsed();
        self.learnt(template, |learnt| {
            if let Some(strategy) = strategy {
                learnt.strategy.record(strategy, took);
            }
            learnt.spares.cloned(took);
        });
        Ok(())
    }

    /// A test's body on a clone of `template` took `took`.
    pub(crate) fn body_ran(&self, template: &str, took: Duration) {
        self.learnt(template, |learnt| learnt.spares.ran(took));
    }

    /// Whether spare clones of `template` pay when the process runs `at_once` tests at
    /// once (see [`SparePolicy`]).
    pub(crate) fn spares_pay(&self, template: &str, at_once: usize) -> bool {
        // Asked once: on Linux the answer reads the process's cgroup files.
        static CORES: LazyLock<usize> =
            LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        self.learnt(template, |learnt| learnt.spares.spares_pay(at_once, *CORES))
    }

    fn learnt<T>(&self, template: &str, f: impl FnOnce(&mut Learnt) -> T) -> T {
        f(self
            .templates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(template.to_string())
            .or_default())
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
    fn spares_are_made_while_a_core_is_free_or_bodies_last_as_long_as_a_clone() {
        let ms = Duration::from_millis;
        // Two tests at once on two cores: the server has no core to spare.
        let busy = |policy: &SparePolicy| policy.spares_pay(2, 2);
        let mut policy = SparePolicy::default();
        // Nothing timed yet, or only clones: spares.
        assert!(busy(&policy));
        policy.cloned(ms(40));
        assert!(busy(&policy));
        // Bodies of a query each: judged after four of them; then the tests' own clones
        // keep the server busy.
        for _ in 0..JUDGED_AFTER - 1 {
            policy.ran(ms(1));
            assert!(busy(&policy));
        }
        policy.ran(ms(1));
        assert!(!busy(&policy));
        // With a core left (one test at a time on two cores), spares all the same.
        assert!(policy.spares_pay(1, 2));
        // Bodies that work a while leave the server time to make the next databases;
        // the average follows them in a few tests.
        let mut tests = 0;
        while !busy(&policy) {
            policy.ran(ms(300));
            policy.cloned(ms(40));
            tests += 1;
        }
        assert!((1..=3).contains(&tests), "{tests}");
        // A body as long as a clone is enough.
        let mut even = SparePolicy::default();
        even.cloned(ms(40));
        for _ in 0..JUDGED_AFTER {
            even.ran(ms(40));
        }
        assert!(busy(&even));
        // Slower clones (a busy server) raise the bar.
        for _ in 0..20 {
            even.cloned(ms(120));
        }
        assert!(!busy(&even));
    }

    #[test]
    fn the_moving_average_moves_an_eighth_of_the_way() {
        let ms = Duration::from_millis;
        assert_eq!(moving_average(None, ms(80)), ms(80));
        assert_eq!(moving_average(Some(ms(80)), ms(160)), ms(90));
        assert_eq!(moving_average(Some(ms(80)), ms(0)), ms(70));
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
