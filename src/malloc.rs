//! glibc's allocator, set for a long-running daemon (issue 14, measured in
//! BENCHMARKS.md "Memory at 1,000 probes"): large blocks are always mapped
//! and given back when freed, and free heap is returned after a large
//! transient (the observatory's publication). No-ops elsewhere than glibc.

/// Blocks of this size or more are mapped on their own and unmapped when
/// freed; the heap's free top is returned beyond it too.
pub const LARGE_BLOCK: i32 = 128 * 1024;

/// Fix glibc's mmap and trim thresholds at [`LARGE_BLOCK`]. By default
/// glibc raises them after the first large block is freed (up to 32 MiB and
/// 64 MiB), after which the daemon's multi-megabyte blocks (the /metrics
/// page, the observatory's index) stay in the heap and keep it large:
/// measured at 1,000 probes, RSS 92 MiB with the default, 82 MiB with the
/// thresholds fixed. Capping arenas (`M_ARENA_MAX` 1 or 2) saved at most
/// ~1 MiB, within the measurements' noise: left alone (BENCHMARKS.md,
/// "Third memory pass"). Called by the daemon at start.
pub fn tune_for_daemon() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator parameters; it is
    // thread-safe and touches no memory the program holds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE_BLOCK);
    }
}

/// Return the free heap to the system. Rendering the observatory of 1,000
/// probes whole peaked at ~340 MiB of heap, freed at once, but glibc kept
/// it: measured (BENCHMARKS.md, issue 14), RSS 234 MiB before
/// `malloc_trim(0)`, 91 MiB after. Rendered a file at a time the peak is
/// far lower, and this still returns the free pages inside the arenas.
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own arenas;
    // it touches no memory the program holds.
    unsafe {
        libc::malloc_trim(0);
    }
}
