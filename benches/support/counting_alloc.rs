//! A global allocator that counts heap bytes while [`measure`] runs, for the benches' memory
//! figures (`#[path]`-included by each bench that reports memory). Outside `measure` it only
//! forwards, so the timed benches measure the code under test, not two atomic updates (one a
//! compare-and-swap loop) per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The most `LIVE` has been since `measure` started.
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Runs `f` with allocations counted; returns its result, the heap bytes it left live and the
/// most it had live at once. Not reentrant, and only for single-threaded code: another thread
/// allocating meanwhile is counted too.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, isize, isize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let result = f();
    COUNTING.store(false, Ordering::SeqCst);
    let live = LIVE.load(Ordering::Relaxed);
    (result, live, PEAK.load(Ordering::Relaxed))
}

/// Forwards to the system allocator, counting while [`measure`] runs.
pub struct Counting;

// SAFETY: forwards every call to the system allocator unchanged and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            PEAK.fetch_max(
                LIVE.fetch_add(size, Ordering::Relaxed) + size,
                Ordering::Relaxed,
            );
        }
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
