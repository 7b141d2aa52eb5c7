//! A counting semaphore bounding the test databases alive at once in this process
//! (`PUM_TEST_MAX_PARALLEL`), so hundreds of parallel tests queue instead of exhausting the
//! server's connections.

use std::sync::{Condvar, Mutex};

/// The free places.
pub(crate) struct Slots {
    count: usize,
    /// The free places, and the most ever taken at once.
    free: Mutex<(usize, usize)>,
    freed: Condvar,
}

/// A place taken; given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    /// `count` places.
    pub(crate) fn new(count: usize) -> Slots {
        Slots {
            count,
            free: Mutex::new((count, 0)),
            freed: Condvar::new(),
        }
    }

    /// Takes a place, waiting for one if none is free.
    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while free.0 == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        free.0 -= 1;
        free.1 = free.1.max(self.count - free.0);
        Slot(self)
    }

    /// The most places taken at once so far: how many tests this process runs at once.
    pub(crate) fn peak(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.free.lock().unwrap_or_else(|e| e.into_inner()).0 += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The bound is reached (each holder waits, at most 10 s, until two have held a place
    /// at once) and never exceeded.
    #[test]
    fn never_more_holders_than_places() {
        let slots = Slots::new(2);
        let holding = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let _slot = slots.acquire();
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                    while most.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    holding.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(slots.peak(), 2);
    }
}
