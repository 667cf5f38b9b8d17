//! x86hw: what the x86 PC hardware ferrite drives expects and answers, as
//! plain values. Register numbers, bit layouts, encodings and decodings
//! from the specs (Intel SDM, the 82093AA IOAPIC and 8254 PIT data sheets,
//! KVM's pvclock ABI, the 16550 UART data sheet), and the arithmetic around
//! them (timer periods, TSC scaling, PIT calibration, the backtrace walk).
//!
//! Nothing here touches hardware: `ostd` does each raw access (port I/O,
//! MMIO, MSRs, `cpuid`, descriptor-table loads) with `unsafe` and asks this
//! crate what to write and what a value read means. Keeping the meaning here
//! keeps `ostd` small, and lets the host unit tests check each encoding
//! against the numbers in the specs (`cargo test -p x86hw`).
//!
//! A wrong value here makes a device misbehave, not memory unsafe, with one
//! exception that ostd's `unsafe` relies on: [`backtrace::walk`] promises to
//! read only frames that passed its checks (its tests hold it to that).
//!
//! | module | what |
//! | --- | --- |
//! | [`apic`] | local APIC registers (xAPIC offsets, x2APIC MSRs), IA32_APIC_BASE, LVT, ICR, timer divide and periods |
//! | [`ioapic`] | IOAPIC registers, redirection entries, which IOAPIC input a GSI is |
//! | [`pit`] | 8254 PIT ports and commands, TSC calibration against it |
//! | [`cpuid`] | the CPUID leaves the platform code reads, decoded |
//! | [`pvclock`] | KVM's `pvclock_vcpu_time_info` and its TSC frequency |
//! | [`tsc`] | TSC ticks to and from nanoseconds, the TSC frequency sources |
//! | [`descriptor`] | GDT descriptors, the 64-bit TSS, IDT gates |
//! | [`exception`] | exception vectors, names, error codes, the trap frame and its dump |
//! | [`backtrace`] | the checked walk of the saved-RBP chain |
//! | [`paging`] | page-table entry bits and indices |
//! | [`uart`] | 16550 UART registers |

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod apic;
pub mod backtrace;
pub mod cpuid;
pub mod descriptor;
pub mod exception;
pub mod ioapic;
pub mod paging;
pub mod pit;
pub mod pvclock;
pub mod tsc;
pub mod uart;
