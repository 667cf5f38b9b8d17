//! Kernel panics: one line on the serial console and the panicking code's
//! backtrace, then debug exit status 1.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::exit::exit;
use crate::println;

/// Exit status of a panicking kernel.
pub(crate) const PANIC_EXIT_STATUS: u8 = 1;

/// Set by the first panic: a panic while printing a backtrace (or on a second
/// CPU meanwhile) prints its message but no backtrace, instead of recursing.
static BACKTRACE_TAKEN: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => println!("PANIC: {} at {}:{}", info.message(), at.file(), at.line()),
        None => println!("PANIC: {}", info.message()),
    }
    if !BACKTRACE_TAKEN.swap(true, Relaxed) {
        crate::trap::print_backtrace_here();
    }
    exit(PANIC_EXIT_STATUS)
}

/// The prebuilt `alloc` (compiled for unwinding) references this symbol on
/// its cleanup paths; with `panic = "abort"` no unwind ever starts, so it is
/// unreachable.
// SAFETY (no_mangle): the symbol the prebuilt library expects; nothing else defines it.
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    panic!("_Unwind_Resume called in a panic=abort kernel")
}
