//! The parts of ferrite's virtio drivers that need no `unsafe`: everything
//! that can be written over plain values and byte slices, unit-tested on the
//! host with `cargo test`.
//!
//! The kernel (`kernel/src/virtio/`, on `ostd`'s DMA and MMIO) supplies only what touches hardware:
//! volatile MMIO register accesses, DMA memory from the buddy allocator and
//! the volatile ring accessors behind [`ring::RingMemory`]. Everything else
//! lives here:
//!
//! - [`mmio`]: virtio-mmio register map (version 2, and the legacy version 1
//!   registers), status bits, feature negotiation (both versions), and
//!   the `virtio_mmio.device=SIZE@ADDR:IRQ` command-line entries that
//!   announce transports (QEMU microvm with `acpi=off`, panvm).
//! - [`acpi`]: the same transports found in ACPI tables (QEMU microvm's
//!   default): RSDP -> RSDT/XSDT -> FADT -> DSDT, `LNRO0005` devices; and
//!   the MADT's processors (local APIC ids), for starting CPUs under QEMU.
//! - [`ring`]: the driver side of a split virtqueue (virtio 1.2, 2.7) with
//!   VIRTIO_F_EVENT_IDX, in the modern or the legacy layout, over any
//!   [`ring::RingMemory`]; it checks everything the device writes (used
//!   index, ids, lengths) before believing it.
//! - [`blk`]: virtio-blk request headers, status codes, config layout, and
//!   request checks (read-only, capacity, alignment, segment splitting).
//! - [`net`]: virtio-net header, Ethernet, ARP, IPv4 and ICMP echo, and an
//!   [`net::Interface`] that answers ARP and pings and sends them.
//! - [`sha256`]: FIPS 180-4 SHA-256, for `workload=disksum`.
//! - [`hex`]: hex formatting and parsing for results and parameters.
//!
//! Spec references are to "Virtual I/O Device (VIRTIO) Version 1.2".

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod acpi;
pub mod blk;
pub mod hex;
pub mod mmio;
pub mod net;
pub mod ring;
pub mod sha256;
