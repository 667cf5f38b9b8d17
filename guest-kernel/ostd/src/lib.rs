//! ostd: ferrite's OS framework, after Asterinas' OSTD. Everything in the
//! guest kernel that must use `unsafe` lives here, each block with its
//! `// SAFETY:` argument, behind an API that safe code cannot use to break
//! memory safety; the kernel proper (`kernel`) is `#![forbid(unsafe_code)]`.
//!
//! What needs no `unsafe` stays out of this crate, in host-tested
//! `#![forbid(unsafe_code)]` crates that ostd calls: `x86hw` says what the
//! hardware's registers and tables mean (APIC, IOAPIC, PIT, CPUID, pvclock,
//! descriptors, exceptions, page-table bits, the UART) and does the
//! arithmetic around them (timer periods, TSC scaling, PIT calibration, the
//! backtrace walk's checks); `mm` keeps the books of the allocators, the
//! bootstrap bump heap and the kernel stack area; `bootinfo` parses what the
//! loader hands over and plans the heap and the CPU list; `sched` decides
//! which task runs. ostd does the raw accesses (port I/O, MMIO, MSRs,
//! descriptor-table loads, page-table writes, context switches) and holds
//! the state that needs them.
//!
//! | module | what it owns | what its safe API guarantees |
//! | --- | --- | --- |
//! | [`boot`] | boot.S, boot information, the boot CPU's start-up | [`boot::start`] runs once; [`boot::BootInfo`] is read-only |
//! | `smp` | starting and parking the other CPUs | -- |
//! | `trap` | GDT/TSS/IDT, exception reports, interrupt entry, preemption trampoline | handlers run on per-CPU IST stacks |
//! | [`percpu`] | per-CPU data through GS, preemption count | `percpu::PreemptGuard` (crate-internal) keeps code on its CPU |
//! | [`sync`] | spin locks | data behind a [`sync::SpinLock`] is reached only through its guard |
//! | [`task`] | kernel threads, stacks, context switch, per-CPU run queues, the sleep/wake API and its timers, the sleeping mutex | a thread's closure is `Send + 'static`; switching happens only here; sleeping and waking ([`task::CurrentTask::sleep`], [`task::TaskHandle::wake`], [`task::wake_at`]) cannot corrupt a queue, at worst a wakeup is spurious |
//! | [`kstack`] | kernel stacks with guard pages (slot books: `mm::stack_area`) | an overflow faults and is reported |
//! | [`heap`] | the global allocator over `mm`, page allocation | `alloc`'s contract; pages are owned ([`heap::PageBlock`]) and freed once, on drop |
//! | [`dma`] | memory shared with devices | a buffer is only read/written through bounds-checked copies |
//! | [`io`] | MMIO windows of devices | accesses are aligned and inside a window the firmware or command line named |
//! | [`firmware`] | firmware tables in physical memory | reads only firmware ranges, never RAM the allocators own |
//! | [`platform`] | time (TSC, kvmclock), local APIC/IOAPIC, interrupt mode (encodings: `x86hw`) | -- |
//! | [`cpu`], [`port`], [`serial`], [`exit`], `phys`, `mem`, `panic` | instructions, port I/O, console, debug exit, the direct map, `mem*` symbols, panics | -- |

#![no_std]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

pub mod boot;
pub mod cpu;
pub mod dma;
pub mod exit;
pub mod firmware;
pub mod heap;
pub mod io;
pub mod kstack;
mod mem;
mod panic;
pub mod percpu;
mod phys;
pub mod platform;
pub mod port;
pub mod serial;
mod smp;
pub mod sync;
pub mod task;
mod trap;
