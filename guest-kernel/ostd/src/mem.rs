//! `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`: the compiler emits calls
//! to these, and the prebuilt `compiler_builtins` for the Linux target does
//! not provide them (libc would). They are written with `rep movsb` /
//! `rep stosb` or volatile reads, because a plain Rust loop may be recognised
//! by LLVM as "a memcpy" and compiled into a call to itself.
//!
//! Contract for all of them: the caller guarantees the pointers are valid for
//! `n` bytes (and, for `memcpy`, that the ranges do not overlap). The
//! direction flag is clear, as the System V ABI requires between calls.

use core::arch::asm;

// SAFETY (no_mangle): these are the C library symbols the compiler's calls
// resolve to; nothing else in the kernel image defines them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees `dest`/`src` valid for `n` bytes and
    // disjoint; `rep movsb` copies exactly `n` bytes forwards (DF clear).
    unsafe {
        asm!("rep movsb",
            inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
            options(nostack, preserves_flags));
    }
    dest
}

// SAFETY (no_mangle): see memcpy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest is below src or past its end: a forward copy never reads a
        // byte it has already overwritten.
        // SAFETY: caller guarantees both ranges valid for `n` bytes.
        unsafe {
            asm!("rep movsb",
                inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
                options(nostack, preserves_flags));
        }
    } else {
        // dest overlaps the tail of src: copy backwards from the last byte.
        // SAFETY: caller guarantees both ranges valid for `n` bytes (n > 0
        // here, so `n - 1` is in range); DF is restored with `cld`.
        unsafe {
            asm!("std", "rep movsb", "cld",
                inout("rcx") n => _,
                inout("rdi") dest.add(n - 1) => _,
                inout("rsi") src.add(n - 1) => _,
                options(nostack));
        }
    }
    dest
}

// SAFETY (no_mangle): see memcpy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees `dest` valid for `n` bytes; `rep stosb`
    // writes exactly those bytes (C semantics: the value is truncated to u8).
    unsafe {
        asm!("rep stosb",
            inout("rcx") n => _, inout("rdi") dest => _, in("al") value as u8,
            options(nostack, preserves_flags));
    }
    dest
}

// SAFETY (no_mangle): see memcpy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges valid for `n` bytes;
        // volatile reads keep LLVM from turning this loop into a memcmp call.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

// SAFETY (no_mangle): see memcpy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp, whose result bcmp may return.
    unsafe { memcmp(a, b, n) }
}
