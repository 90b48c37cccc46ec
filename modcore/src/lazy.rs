//! [`LazyBox`]: a heap value allocated on first use, one pointer wide.
//!
//! `ModuleCore` must stay at 16 bytes while still letting hooks be registered through `&self`
//! (a hook may register another hook while the module runs). `std::sync::OnceLock<Box<_>>` is
//! 16 bytes on its own; this cell is a single `AtomicPtr`, initialised by compare-and-swap
//! (the loser of a race frees its value), and gives `&mut` access without atomics when the
//! owner has `&mut self`.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A `Box<T>` that is allocated on first access. Null means "not yet allocated".
pub(crate) struct LazyBox<T> {
    ptr: AtomicPtr<T>,
    /// Owns a `T` for drop-check and auto traits (`Send`/`Sync` only as `Box<T>` would be).
    _owns: PhantomData<Box<T>>,
}

impl<T> LazyBox<T> {
    pub(crate) const fn new() -> Self {
        LazyBox {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// The value, if it was allocated.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: `p` is null or came from `Box::into_raw` in `get_or_init` and was published
        // with `Release` (paired with the `Acquire` load above, so the pointee is initialised).
        // It is freed only by `drop` or replaced only through `&mut self`, neither of which can
        // happen while the returned `&T` (tied to `&self`) is alive.
        unsafe { p.as_ref() }
    }

    /// The value, allocating it with `init` first if needed. If two threads race, one value
    /// wins and the other is dropped; both callers see the winner.
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T
    where
        T: Send + Sync,
    {
        if let Some(value) = self.get() {
            return value;
        }
        let fresh = Box::into_raw(Box::new(init()));
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` is now owned by `self` and published; see `get`.
            Ok(_) => unsafe { &*fresh },
            Err(winner) => {
                // SAFETY: the CAS failed, so `fresh` was never published and we still own it
                // uniquely; `winner` is the published value, valid as in `get`.
                unsafe {
                    drop(Box::from_raw(fresh));
                    &*winner
                }
            }
        }
    }

    /// Exclusive access to the value, if it was allocated.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        let p = *self.ptr.get_mut();
        // SAFETY: `&mut self` proves no other reference into the value exists; `p` is null or
        // a live pointer from `Box::into_raw`.
        unsafe { p.as_mut() }
    }

    /// Exclusive access to the value, allocating it first if needed.
    pub(crate) fn get_or_init_mut(&mut self, init: impl FnOnce() -> T) -> &mut T {
        if self.ptr.get_mut().is_null() {
            *self.ptr.get_mut() = Box::into_raw(Box::new(init()));
        }
        let p = *self.ptr.get_mut();
        // SAFETY: `p` is non-null (set just above or earlier) and came from `Box::into_raw`;
        // `&mut self` makes this the only reference.
        unsafe { &mut *p }
    }
}

impl<T> Drop for LazyBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: `p` came from `Box::into_raw` and is owned by `self`, which is being dropped.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

// SAFETY: sharing `&LazyBox<T>` across threads lets a thread create a `T` (moved in from another
// thread's perspective when a racing loser drops its value, or when the winner's value is
// later dropped elsewhere), and gives out `&T` to several threads: that needs `T: Send + Sync`.
unsafe impl<T: Send + Sync> Sync for LazyBox<T> {}

#[cfg(test)]
mod tests {
    use super::LazyBox;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn allocates_once_and_reads_back() {
        let mut cell = LazyBox::new();
        assert!(cell.get().is_none());
        assert_eq!(*cell.get_or_init(|| 7), 7);
        assert_eq!(*cell.get_or_init(|| 8), 7);
        *cell.get_mut().unwrap() = 9;
        assert_eq!(cell.get(), Some(&9));
        assert_eq!(*cell.get_or_init_mut(|| 10), 9);
    }

    #[test]
    fn racing_initialisers_agree_and_the_loser_is_dropped() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let start = drops.load(Ordering::SeqCst);
            let cell = LazyBox::new();
            let made = AtomicUsize::new(0);
            std::thread::scope(|s| {
                let seen: Vec<usize> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            let v = cell.get_or_init(|| {
                                made.fetch_add(1, Ordering::SeqCst);
                                Counted(drops.clone())
                            });
                            v as *const Counted as usize
                        })
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect();
                assert!(seen.windows(2).all(|w| w[0] == w[1]));
            });
            drop(cell);
            // Every value made was dropped exactly once: the losers during the race, the winner now.
            assert_eq!(
                drops.load(Ordering::SeqCst) - start,
                made.load(Ordering::SeqCst)
            );
        }
    }
}
