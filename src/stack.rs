//! Stack growth for the recursive passes: each recursive function runs its
//! body through [`grow`], which moves onto a fresh heap-allocated stack
//! segment when the current one is nearly used up. The depth bounds of
//! `parse` (checked by counting, before any recursion) therefore hold the
//! same on any thread, in debug and release builds alike, not only on the
//! CLI's big worker thread.

/// Stack that must remain before a recursive step runs on the current
/// segment.
const RED_ZONE: usize = 256 * 1024;

/// Size of each new segment.
const SEGMENT: usize = 8 * 1024 * 1024;

/// Runs `f`, on a new stack segment if little stack is left.
pub(crate) fn grow<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}
