//! CPU exceptions and interrupt entry: one GDT with a TSS per CPU, one IDT for
//! all 256 vectors, per-CPU trap stacks, the exception report (with a
//! frame-pointer backtrace) and the interrupt dispatch into `platform`.
//!
//! Stack rules that shape this file:
//! - on a PVM host in native mode every exception lands on TSS.RSP0, even from
//!   kernel mode, and a nested exception overwrites the outer frame; RSP0 = 0
//!   shuts the VM down (DESIGN.md). So every CPU has its own TSS whose RSP0 is
//!   a valid stack before that CPU can fault;
//! - elsewhere an exception from kernel mode uses the current stack, which may
//!   hold the red zone of the prebuilt `core`; so every gate uses an IST stack
//!   instead: exceptions IST1 (the same stack as RSP0), #DF/NMI/#MC IST2 (they
//!   can follow a stack overflow or arrive inside another handler), interrupts
//!   IST3. Interrupt gates keep IF clear, so no handler nests on its own stack.
//!
//! Per-CPU stack block (64 KiB, `trap_stacks + (cpu << 16)`, trap.S):
//!
//! | offset | use |
//! | --- | --- |
//! | 0..16 KiB | IST2: #DF, NMI, #MC |
//! | 16..32 KiB | IST3: interrupts (vectors 32..255) |
//! | 32..64 KiB | IST1 and RSP0: all other exceptions |
//!
//! A handler learns which CPU it runs on from the address of its frame.
//!
//! GDT layout (selectors): 0x08 kernel code, 0x10 kernel data, 0x2b user data
//! and 0x33 user code (DPL3, the `syscall`/`sysret` layout with STAR[63:48] =
//! 0x23; unused so far), then one 16-byte TSS descriptor per CPU from 0x40.

use core::arch::{asm, global_asm};
use core::mem::size_of;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use x86hw::backtrace;
use x86hw::descriptor::{self, DescriptorTablePointer, Gate, KERNEL_CODE_SELECTOR, Tss};
use x86hw::exception::{
    self, DOUBLE_FAULT_VECTOR, FIRST_IRQ_VECTOR, FrameDump, GENERAL_PROTECTION_VECTOR, Headline,
    InterruptFrame, MACHINE_CHECK_VECTOR, NMI_VECTOR, PAGE_FAULT_VECTOR, RFLAGS_IF, TrapFrame,
};

use crate::exit::exit;
use crate::panic::PANIC_EXIT_STATUS;
use crate::phys::KERNEL_VMA;
use crate::{cpu, kstack, print, println, task};

global_asm!(include_str!("trap.S"), options(att_syntax));

/// The most CPUs the kernel supports (trap.S: MAX_CPUS).
pub(crate) const MAX_CPUS: usize = 64;

unsafe extern "C" {
    /// First of 32 exception entry stubs, 16 bytes apart (trap.S).
    static trap_stubs: [u8; 32 * 16];
    /// First of 224 interrupt entry stubs (vectors 32..255), 16 bytes apart (trap.S).
    static irq_stubs: [u8; 224 * 16];
    /// Per-CPU trap stacks (trap.S): `MAX_CPUS` blocks of `1 << TRAP_STACKS_SHIFT` bytes.
    static trap_stacks: u8;
    /// The MSR instructions of `rdmsr_safe`/`wrmsr_safe`: a #GP there is resumed.
    static msr_safe_rdmsr: u8;
    static msr_safe_wrmsr: u8;
    /// Where an interrupt that preempts a task returns to (trap.S).
    static preempt_trampoline: u8;
    // Linker-script symbols (linker.ld): only their addresses are meaningful.
    static __kernel_start: u8;
    static __kernel_end: u8;
}

unsafe extern "C" {
    #[link_name = "rdmsr_safe"]
    fn asm_rdmsr_safe(msr: u32, value: *mut u64) -> u64;
    #[link_name = "wrmsr_safe"]
    fn asm_wrmsr_safe(msr: u32, value: u64) -> u64;
}

/// GDT index of CPU 0's TSS descriptor (selector 0x40); CPU i uses index 8 + 2i.
const FIRST_TSS_INDEX: usize = 8;
const GDT_ENTRIES: usize = FIRST_TSS_INDEX + 2 * MAX_CPUS;

const TRAP_STACKS_SHIFT: u32 = 16; // trap.S: TRAP_STACKS_SHIFT
const TRAP_STACKS_SIZE: u64 = (MAX_CPUS as u64) << TRAP_STACKS_SHIFT;
const NMI_STACK_TOP: u64 = 16 << 10;
const IRQ_STACK_TOP: u64 = 32 << 10;
const EXCEPTION_STACK_TOP: u64 = 64 << 10;

/// IST slots (1-based as in the gate; `Tss::ist[slot - 1]`).
const IST_EXCEPTION: u8 = 1;
const IST_NMI: u8 = 2;
const IST_IRQ: u8 = 3;

const fn initial_gdt() -> [u64; GDT_ENTRIES] {
    let mut gdt = [0; GDT_ENTRIES];
    gdt[1] = descriptor::KERNEL_CODE_DESCRIPTOR; // 0x08, as in boot.S
    gdt[2] = descriptor::KERNEL_DATA_DESCRIPTOR; // 0x10, as in boot.S
    gdt[5] = descriptor::USER_DATA_DESCRIPTOR; // 0x28 (0x2b with RPL3)
    gdt[6] = descriptor::USER_CODE_DESCRIPTOR; // 0x30 (0x33 with RPL3)
    gdt
}

// The GDT and IDT are shared by all CPUs; each CPU writes only its own TSS and
// TSS descriptor (in `load_cpu`), the IDT is written once (in `build_idt`,
// guarded by IDT_STATE) before any CPU loads it.
static mut GDT: [u64; GDT_ENTRIES] = initial_gdt();
static mut TSS: [Tss; MAX_CPUS] = [Tss::EMPTY; MAX_CPUS];
static mut IDT: [Gate; 256] = [Gate::EMPTY; 256];

const IDT_EMPTY: u8 = 0;
const IDT_BUILDING: u8 = 1;
const IDT_READY: u8 = 2;
static IDT_STATE: AtomicU8 = AtomicU8::new(IDT_EMPTY);
/// Set once a CPU has loaded its TSS (loading a busy TSS again would #GP).
static CPU_LOADED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Installs the GDT, this CPU's TSS and the IDT on the boot CPU (CPU 0).
pub fn init() {
    init_ap(0);
}

/// Installs the shared GDT and IDT and CPU `cpu`'s own TSS (RSP0 and IST
/// stacks) on the calling CPU. Call it on every CPU, before anything on that
/// CPU can fault, with the CPU's index (`< MAX_CPUS`); a second call for the
/// same CPU does nothing. Any CPU may be first: the IDT is built once.
pub(crate) fn init_ap(cpu: usize) {
    assert!(cpu < MAX_CPUS, "cpu {cpu} >= MAX_CPUS ({MAX_CPUS})");
    build_idt();
    if CPU_LOADED[cpu].swap(true, Ordering::AcqRel) {
        return;
    }
    load_cpu(cpu);
}

fn stack_block(cpu: usize) -> u64 {
    (&raw const trap_stacks) as u64 + ((cpu as u64) << TRAP_STACKS_SHIFT)
}

/// The CPU whose trap stacks contain `addr`, if any: what an exception or
/// interrupt handler uses to know where it runs.
pub(crate) fn cpu_of_trap_stack(addr: u64) -> Option<usize> {
    let offset = addr.wrapping_sub((&raw const trap_stacks) as u64);
    (offset < TRAP_STACKS_SIZE).then_some((offset >> TRAP_STACKS_SHIFT) as usize)
}

fn build_idt() {
    match IDT_STATE.compare_exchange(
        IDT_EMPTY,
        IDT_BUILDING,
        Ordering::Acquire,
        Ordering::Acquire,
    ) {
        Ok(_) => {}
        Err(_) => {
            while IDT_STATE.load(Ordering::Acquire) != IDT_READY {
                core::hint::spin_loop();
            }
            return;
        }
    }
    let exception_stubs = (&raw const trap_stubs) as u64;
    let interrupt_stubs = (&raw const irq_stubs) as u64;
    // SAFETY: only the CPU that won the IDT_STATE race gets here, once; no CPU
    // loads the IDT before IDT_STATE is READY (the Release store below), so
    // nothing reads it concurrently. Writes go through a raw pointer.
    unsafe {
        let idt = &raw mut IDT;
        for (vector, gate) in (*idt).iter_mut().enumerate() {
            let vector = vector as u64;
            let (handler, ist) = if vector < FIRST_IRQ_VECTOR as u64 {
                let ist = match vector {
                    NMI_VECTOR | DOUBLE_FAULT_VECTOR | MACHINE_CHECK_VECTOR => IST_NMI,
                    _ => IST_EXCEPTION,
                };
                (exception_stubs + 16 * vector, ist)
            } else {
                (
                    interrupt_stubs + 16 * (vector - FIRST_IRQ_VECTOR as u64),
                    IST_IRQ,
                )
            };
            *gate = Gate::interrupt(handler, KERNEL_CODE_SELECTOR, ist);
        }
    }
    IDT_STATE.store(IDT_READY, Ordering::Release);
}

fn load_cpu(cpu: usize) {
    let block = stack_block(cpu);
    let tss_index = FIRST_TSS_INDEX + 2 * cpu;
    // SAFETY: CPU_LOADED guarantees that only this CPU, once, writes TSS[cpu]
    // and GDT entries tss_index and tss_index + 1; no CPU uses them before the
    // `ltr` below. Other CPUs only read other GDT entries (at segment loads).
    // Writes go through raw pointers, no references.
    unsafe {
        let tss = &raw mut TSS[cpu];
        (*tss).rsp[0] = block + EXCEPTION_STACK_TOP; // PVM native mode: every exception lands here
        (*tss).ist[(IST_EXCEPTION - 1) as usize] = block + EXCEPTION_STACK_TOP;
        (*tss).ist[(IST_NMI - 1) as usize] = block + NMI_STACK_TOP;
        (*tss).ist[(IST_IRQ - 1) as usize] = block + IRQ_STACK_TOP;

        let [low, high] = descriptor::tss_descriptor(tss as u64, size_of::<Tss>() as u64 - 1);
        let gdt = &raw mut GDT;
        (*gdt)[tss_index] = low;
        (*gdt)[tss_index + 1] = high;
    }

    let gdt_ptr = DescriptorTablePointer {
        limit: (size_of::<[u64; GDT_ENTRIES]>() - 1) as u16,
        base: (&raw const GDT) as u64,
    };
    let idt_ptr = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: (&raw const IDT) as u64,
    };
    // SAFETY: the GDT keeps the boot GDT's code/data selectors (0x08, 0x10),
    // so the loaded segment registers stay valid without a reload; this CPU's
    // TSS descriptor and all IDT gates are complete (above, and IDT_STATE is
    // READY) and live in statics for the kernel's lifetime; each CPU loads its
    // own TSS selector exactly once (CPU_LOADED), so `ltr` never sees a busy TSS.
    unsafe {
        asm!(
            "lgdt [{gdt}]",
            "ltr {tss:x}",
            "lidt [{idt}]",
            gdt = in(reg) &gdt_ptr,
            idt = in(reg) &idt_ptr,
            tss = in(reg) (tss_index * 8) as u16,
            options(nostack, preserves_flags),
        );
    }
}

#[allow(dead_code)] // for probing MSRs; only wrmsr_safe has callers so far
/// Reads an MSR, returning `None` instead of faulting if the CPU raises #GP
/// (MSR absent). Needs this CPU's IDT (`init`/`init_ap`).
pub(crate) fn rdmsr_safe(msr: u32) -> Option<u64> {
    let mut value = 0;
    // SAFETY: the asm routine (trap.S) reads the MSR into `value`, a valid
    // local; a #GP on the rdmsr is resumed by trap_handler, which reports it
    // through the return value. Reading an MSR has no memory effects.
    let faulted = unsafe { asm_rdmsr_safe(msr, &mut value) };
    (faulted == 0).then_some(value)
}

/// Writes an MSR, returning false instead of faulting if the CPU raises #GP.
///
/// # Safety
/// As for any `wrmsr`: the caller must know what writing `value` to `msr` does.
pub(crate) unsafe fn wrmsr_safe(msr: u32, value: u64) -> bool {
    // SAFETY: the MSR's effect is the caller's contract; a #GP is resumed by
    // trap_handler and reported through the return value.
    unsafe { asm_wrmsr_safe(msr, value) == 0 }
}

/// Index 0..MAX_CPUS: CPUs; the last slot: a frame on no known trap stack.
static REPORTING: [AtomicBool; MAX_CPUS + 1] = [const { AtomicBool::new(false) }; MAX_CPUS + 1];

/// Called by trap.S for every exception. Only a #GP from `rdmsr_safe` /
/// `wrmsr_safe` is resumed; anything else is reported and ends the VM.
// SAFETY (no_mangle): trap.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn trap_handler(frame: &mut TrapFrame) {
    if frame.vector == GENERAL_PROTECTION_VECTOR
        && (frame.rip == (&raw const msr_safe_rdmsr) as u64
            || frame.rip == (&raw const msr_safe_wrmsr) as u64)
    {
        frame.r8 = 1; // the routine's "faulted" flag
        frame.rip += 2; // rdmsr and wrmsr are both 2 bytes
        return;
    }
    report_exception(frame)
}

fn report_exception(frame: &TrapFrame) -> ! {
    let cpu = cpu_of_trap_stack(frame as *const TrapFrame as u64);
    let slot = cpu.unwrap_or(MAX_CPUS);
    if REPORTING[slot].swap(true, Ordering::AcqRel) {
        // An exception while reporting one (on PVM it has overwritten the
        // outer frame): say the least and stop.
        println!(
            "CPU EXCEPTION: nested {} (vector {}) at rip={:#x} while reporting an exception",
            exception::name(frame.vector).0,
            frame.vector,
            frame.rip
        );
        exit(PANIC_EXIT_STATUS)
    }

    // Read once: on PVM every read of CR2 is an exit.
    let cr2 = (frame.vector == PAGE_FAULT_VECTOR).then(cpu::read_cr2);
    println!(
        "{}",
        Headline {
            vector: frame.vector,
            cpu
        }
    );
    // A kernel stack overflow: the fault hit the guard pages below a stack.
    if let Some(fault) = cr2
        && let Some(stack) = kstack::guarded_stack(fault)
    {
        task::report_stack_overflow(fault, stack);
    }
    let pvm_native = crate::platform::pvm_native();
    print!(
        "{}",
        FrameDump {
            frame,
            cr2,
            pvm_native
        }
    );
    print_backtrace(frame.rip, frame.rbp, frame.rsp);
    exit(PANIC_EXIT_STATUS)
}

/// Prints `rip`, then the return addresses found by following the saved-RBP
/// chain from `rbp` (`x86hw::backtrace::walk`). Every read is checked so a
/// corrupt chain cannot fault: a frame must be 8-aligned, lie in the
/// kernel's upper-half map (which is always mapped) or on mapped pages of
/// the kernel stack area (kstack.rs), within a window above `rsp` (the stack
/// in use), strictly above the previous frame; a return address must point
/// into the kernel image. The kernel is built with frame pointers
/// (`-C force-frame-pointers=yes`); frames of the prebuilt `core` may lack
/// them, and the walk then stops or skips them.
pub(crate) fn print_backtrace(rip: u64, rbp: u64, rsp: u64) {
    let text = (&raw const __kernel_start) as u64..(&raw const __kernel_end) as u64;
    println!("  backtrace (symbolize: addr2line -Cfipe guest-kernel/target/ferrite ADDR...):");
    println!("    #0  {rip:#018x}");
    let readable = |frame: u64| {
        frame >= KERNEL_VMA || kstack::is_mapped(frame) && kstack::is_mapped(frame + 8)
    };
    let read = |frame: u64| {
        // SAFETY: `walk` reads only a frame that is 8-aligned, for which
        // `readable` said [frame, frame + 16) lies in the kernel's upper-half
        // map, which every page table keeps mapped, or on stack pages mapped
        // when checked (a stack freed since by another CPU could make this
        // read fault: a nested exception, reported as such), and within a
        // short window above the interrupted stack pointer; volatile reads of
        // plain memory, whatever its contents, cannot break Rust invariants
        // (this is a diagnostic read, racing writes only garble it).
        unsafe {
            let p = frame as *const u64;
            [p.read_volatile(), p.add(1).read_volatile()]
        }
    };
    let found = |depth: usize, ret: u64| println!("    #{depth:<2} {ret:#018x}");
    let end = backtrace::walk(rbp, rsp, text, readable, read, found);
    println!("    ({end})");
}

/// Prints a backtrace of the caller (the panic handler's).
#[inline(never)]
pub(crate) fn print_backtrace_here() {
    let (rbp, rsp): (u64, u64);
    // SAFETY: only copies RBP and RSP into registers; no memory or flags change.
    unsafe {
        asm!("mov {}, rbp", "mov {}, rsp", out(reg) rbp, out(reg) rsp,
            options(nomem, nostack, preserves_flags));
    }
    // Our own frame: [rbp] = caller's RBP, [rbp + 8] = return address into it.
    print_backtrace(print_backtrace_here as *const () as u64, rbp, rsp);
}

/// Called by trap.S for every interrupt (vectors 32..255), on the IST3 stack
/// of the interrupted CPU, with interrupts off.
// SAFETY (no_mangle): trap.S calls this symbol; no other item has the name.
#[unsafe(no_mangle)]
extern "C" fn irq_handler(vector: u64, frame: &mut InterruptFrame) {
    let cpu = cpu_of_trap_stack(frame as *const InterruptFrame as u64);
    crate::platform::handle_interrupt(vector as u8, cpu, frame.rip);
    if cpu.is_some_and(crate::task::preempt_at_irq_exit) {
        return_into_preemption(frame);
    }
}

/// Makes the interrupt return into `preempt_trampoline` (trap.S) on the
/// interrupted task's stack instead of into the task: pushes the interrupted
/// RFLAGS and RIP there, for the trampoline to resume with, and returns with
/// interrupts off. The task's stack, not this CPU's interrupt stack, then
/// holds everything, so the task can be switched out and resumed later, on
/// any CPU.
fn return_into_preemption(frame: &mut InterruptFrame) {
    let rsp = frame.rsp - 16;
    // SAFETY: the interrupted code is a task on its own kernel stack (task.rs
    // checked `current` and a zero preemption count, so not an idle loop on a
    // boot stack); the kernel is built without a red zone (-C no-redzone), so
    // the bytes below its RSP are unused. Should the stack be full, the write
    // faults in its guard page and is reported as an overflow.
    unsafe {
        ((rsp + 8) as *mut u64).write(frame.rflags);
        (rsp as *mut u64).write(frame.rip);
    }
    frame.rsp = rsp;
    frame.rip = (&raw const preempt_trampoline) as u64;
    frame.rflags &= !RFLAGS_IF;
}
