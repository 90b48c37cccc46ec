//! The sizes of the last walk results on this thread, so that the next walk of the same model
//! reserves its buffers once, at their final size.
//!
//! A loop that walks one model (`named_parameters` every step, `state_dict` every epoch) would
//! otherwise copy each result buffer through every doubling on every call: an eighth of a
//! `state_dict`. A walk of a larger model than the last grows its buffers as usual.

use std::cell::Cell;

use crate::MemberKind;

/// What a walk built: the result a size is remembered for.
#[derive(Clone, Copy)]
pub(crate) enum Walked {
    /// `named_parameters`, `named_buffers` or `named_modules`.
    Named(MemberKind),
    /// A state dict's entries.
    StateDict,
    /// A state dict's per-module metadata.
    StateDictMetadata,
}

impl Walked {
    fn slot(self) -> usize {
        match self {
            Walked::Named(kind) => kind as usize,
            Walked::StateDict => 3,
            Walked::StateDictMetadata => 4,
        }
    }
}

/// What a walk reserves at least: enough for a small model.
const MIN_ENTRIES: usize = 64;
const MIN_NAME_BYTES: usize = 1024;

thread_local! {
    /// `(entries, name bytes)` of the last result of each kind, by [`Walked::slot`].
    static LAST: Cell<[(usize, usize); 5]> = const { Cell::new([(0, 0); 5]) };
}

/// `(entries, name bytes)` to reserve for a walk that builds `what`: as many as the last such
/// walk on this thread returned, at least a small model's.
pub(crate) fn reserve(what: Walked) -> (usize, usize) {
    let (entries, bytes) = LAST.with(|last| last.get()[what.slot()]);
    (entries.max(MIN_ENTRIES), bytes.max(MIN_NAME_BYTES))
}

/// Records the size of a result of `what`, for the next [`reserve`].
pub(crate) fn record(what: Walked, entries: usize, bytes: usize) {
    LAST.with(|last| {
        let mut sizes = last.get();
        sizes[what.slot()] = (entries, bytes);
        last.set(sizes);
    });
}
