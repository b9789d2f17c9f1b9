//! Where the index's large arrays live in memory: transparent huge pages for a structure
//! read at random, prefetches for lookups that read several of its lines, and freed
//! memory handed back to the system after a large build. The only `unsafe` of the index
//! (calls into libc, the allocator and a processor hint) is here.

/// Moves a large array into memory backed by transparent huge pages where the kernel
/// offers them on request (`madvise` mode, the common default). A lookup touches a few
/// random cache lines of a structure that can be hundreds of MiB; with 4 KiB pages most
/// of them also miss the TLB, with 2 MiB pages few do.
pub(super) fn huge_pages<T: Copy>(v: Vec<T>) -> Box<[T]> {
    const WORTH_IT: usize = 8 << 20;
    let bytes = std::mem::size_of_val(v.as_slice());
    if bytes < WORTH_IT {
        return v.into_boxed_slice();
    }
    let mut fresh: Vec<T> = Vec::with_capacity(v.len());
    advise_huge_pages(fresh.as_mut_ptr().cast(), bytes);
    fresh.extend_from_slice(&v);
    fresh.into_boxed_slice()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    const PAGE: usize = 4096;
    let addr = start as usize;
    let aligned = addr.next_multiple_of(PAGE);
    let len = (addr + bytes).saturating_sub(aligned) / PAGE * PAGE;
    if len == 0 {
        return;
    }
    // SAFETY: the range lies inside an allocation we own and have not touched yet;
    // MADV_HUGEPAGE only changes how the kernel backs it, never its contents, and a
    // failure (e.g. THP disabled) leaves ordinary pages, which is fine.
    unsafe {
        libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

/// Asks the processor to start loading the cache line of `words[at]`, if it exists,
/// without waiting for it: a lookup that will read several lines of a structure too large
/// for the caches overlaps their misses instead of taking them one after another.
#[inline]
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(super) fn prefetch(words: &[u64], at: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    if let Some(word) = words.get(at) {
        // SAFETY: a prefetch is a hint: it reads nothing into the program, changes no
        // memory and never faults; the address is inside a live slice anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(word).cast()) }
    }
}

#[inline]
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn prefetch(_words: &[u64], _at: usize) {}

/// Hands memory freed after a large build back to the operating system. Allocators keep
/// freed memory for reuse, and resident memory would stay at the build's peak (10M
/// entries: ~100 MiB of read buffers and sort space around a 13 MiB index) until they
/// decide to return it, which for an idle process may be never. The binary allocates
/// with mimalloc (src/main.rs), whose freed pages and segments are purged only when the
/// thread that owns them allocates again, so they are collected here on demand; glibc's
/// arenas (the allocator of the test binaries and of anything linked without ours) are
/// trimmed too. Either call finds nothing to do when its allocator is not in use.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn return_free_memory() {
    // SAFETY: mi_collect only frees and purges memory mimalloc no longer hands out; it
    // may be called from any thread at any time.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn return_free_memory() {}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _bytes: usize) {}
