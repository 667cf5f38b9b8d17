//! Kernel panics: one line on the serial console, then debug exit status 1.

use core::panic::PanicInfo;

use crate::exit::exit;
use crate::println;

/// Exit status of a panicking kernel.
pub const PANIC_EXIT_STATUS: u8 = 1;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => println!("PANIC: {} at {}:{}", info.message(), at.file(), at.line()),
        None => println!("PANIC: {}", info.message()),
    }
    exit(PANIC_EXIT_STATUS)
}
