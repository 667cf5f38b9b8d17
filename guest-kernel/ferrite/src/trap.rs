//! CPU exceptions: GDT with a TSS, an IDT for vectors 0..31, and a handler
//! that reports the exception as a kernel panic.
//!
//! Stack rules that shape this file:
//! - on a PVM host in native mode every exception lands on TSS.RSP0, even from
//!   kernel mode (DESIGN.md), so RSP0 must point at a valid stack;
//! - elsewhere an exception from kernel mode uses the current stack, which may
//!   hold the red zone of the prebuilt `core`; so every gate uses an IST
//!   stack instead, and #DF (which can follow a stack overflow) has its own.

use core::arch::{asm, global_asm};
use core::mem::size_of;
use core::ptr::addr_of;

use crate::cpu;

global_asm!(include_str!("trap.S"), options(att_syntax));

unsafe extern "C" {
    /// First of 32 entry stubs, 16 bytes apart (trap.S).
    static trap_stubs: [u8; 32 * 16];
}

const KERNEL_CODE: u16 = 0x08; // same selectors as boot.S
const TSS_SELECTOR: u16 = 0x18;
const TRAP_STACK_SIZE: usize = 16 * 1024;
const DOUBLE_FAULT_VECTOR: usize = 8;

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub struct DescriptorTablePointer {
    pub limit: u16,
    pub base: u64,
}

/// The 64-bit Task State Segment: only its stack pointers matter here.
#[repr(C, packed)]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

/// One 16-byte IDT gate.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, DPL0, 64-bit interrupt gate (interrupts stay off in the handler).
const INTERRUPT_GATE: u8 = 0x8e;

#[repr(C, align(16))]
struct Stack([u8; TRAP_STACK_SIZE]);

// These tables are written once by `init` on the boot CPU, before any
// exception can use them, and only read by the CPU afterwards.
static mut GDT: [u64; 5] = [
    0,
    0x00af_9a00_0000_ffff, // 0x08: 64-bit kernel code
    0x00cf_9200_0000_ffff, // 0x10: kernel data
    0,                     // 0x18: TSS descriptor, low half (filled by init)
    0,                     // 0x20: TSS descriptor, high half
];
static mut TSS: Tss = Tss {
    reserved0: 0,
    rsp: [0; 3],
    reserved1: 0,
    ist: [0; 7],
    reserved2: 0,
    reserved3: 0,
    iomap_base: size_of::<Tss>() as u16, // no I/O permission bitmap
};
static mut IDT: [Gate; 32] = [Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    type_attr: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
}; 32];
static mut TRAP_STACK: Stack = Stack([0; TRAP_STACK_SIZE]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; TRAP_STACK_SIZE]);

/// Installs GDT+TSS and the exception IDT on this (the boot) CPU.
pub fn init() {
    let trap_stack_top = (&raw const TRAP_STACK) as u64 + TRAP_STACK_SIZE as u64;
    let df_stack_top = (&raw const DOUBLE_FAULT_STACK) as u64 + TRAP_STACK_SIZE as u64;
    let tss_base = (&raw const TSS) as u64;
    let stubs = addr_of!(trap_stubs) as u64;

    // SAFETY: runs once on the boot CPU before any of these statics is in use
    // (the boot IDT/GDT from boot.S are still loaded), so nothing reads them
    // concurrently; all writes go through raw pointers, no references.
    unsafe {
        let tss = &raw mut TSS;
        (*tss).rsp[0] = trap_stack_top; // PVM native mode: every exception lands here
        (*tss).ist[0] = trap_stack_top; // IST1: all exceptions but #DF
        (*tss).ist[1] = df_stack_top; // IST2: #DF

        let gdt = &raw mut GDT;
        let limit = size_of::<Tss>() as u64 - 1;
        (*gdt)[3] = (limit & 0xffff)
            | (tss_base & 0xff_ffff) << 16
            | 0x89 << 40 // present, available 64-bit TSS
            | (limit >> 16 & 0xf) << 48
            | (tss_base >> 24 & 0xff) << 56;
        (*gdt)[4] = tss_base >> 32;

        let idt = &raw mut IDT;
        for (vector, gate) in (*idt).iter_mut().enumerate() {
            let handler = stubs + 16 * vector as u64;
            *gate = Gate {
                offset_low: handler as u16,
                selector: KERNEL_CODE,
                ist: if vector == DOUBLE_FAULT_VECTOR { 2 } else { 1 },
                type_attr: INTERRUPT_GATE,
                offset_mid: (handler >> 16) as u16,
                offset_high: (handler >> 32) as u32,
                reserved: 0,
            };
        }
    }

    let gdt_ptr = DescriptorTablePointer {
        limit: (size_of::<[u64; 5]>() - 1) as u16,
        base: (&raw const GDT) as u64,
    };
    let idt_ptr = DescriptorTablePointer {
        limit: (size_of::<[Gate; 32]>() - 1) as u16,
        base: (&raw const IDT) as u64,
    };
    // SAFETY: the new GDT keeps the boot GDT's code/data selectors (0x08,
    // 0x10), so the loaded segment registers stay valid without a reload; the
    // TSS descriptor and IDT gates were completed above and live in statics
    // for the kernel's lifetime.
    unsafe {
        asm!(
            "lgdt [{gdt}]",
            "ltr {tss:x}",
            "lidt [{idt}]",
            gdt = in(reg) &gdt_ptr,
            idt = in(reg) &idt_ptr,
            tss = in(reg) TSS_SELECTOR,
            options(nostack, preserves_flags),
        );
    }
}

/// The stack contents at the call into `trap_handler` (trap.S order).
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    // pushed by the CPU
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Mnemonics from the Intel SDM, vol. 3, table 6-1.
fn exception_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE",
        "#DB",
        "NMI",
        "#BP",
        "#OF",
        "#BR",
        "#UD",
        "#NM",
        "#DF",
        "coprocessor overrun",
        "#TS",
        "#NP",
        "#SS",
        "#GP",
        "#PF",
        "reserved",
        "#MF",
        "#AC",
        "#MC",
        "#XM",
        "#VE",
        "#CP",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "#HV",
        "#VC",
        "#SX",
        "reserved",
    ];
    NAMES.get(vector as usize).copied().unwrap_or("?")
}

/// Called by trap.S for every exception. None is recoverable yet: report it as a panic.
// SAFETY (no_mangle): trap.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn trap_handler(frame: &mut TrapFrame) {
    let cr2 = if frame.vector == 14 {
        cpu::read_cr2()
    } else {
        0
    };
    panic!(
        "CPU exception {} (vector {}) error={:#x} rip={:#x} rsp={:#x} cr2={:#x}",
        exception_name(frame.vector),
        frame.vector,
        frame.error_code,
        frame.rip,
        frame.rsp,
        cr2
    );
}
