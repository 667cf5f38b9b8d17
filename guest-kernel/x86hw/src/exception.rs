//! CPU exceptions (Intel SDM vol. 3, chapter 6): vectors, names, what an
//! error code says, and the register state a handler sees, as the exception
//! report prints it.

use core::fmt;

pub const NMI_VECTOR: u64 = 2;
pub const DOUBLE_FAULT_VECTOR: u64 = 8;
pub const GENERAL_PROTECTION_VECTOR: u64 = 13;
pub const PAGE_FAULT_VECTOR: u64 = 14;
pub const MACHINE_CHECK_VECTOR: u64 = 18;
/// First vector that is an interrupt rather than an exception.
pub const FIRST_IRQ_VECTOR: usize = 32;

/// Mnemonic and name of exception `vector` (SDM vol. 3, table 6-1).
pub fn name(vector: u64) -> (&'static str, &'static str) {
    const NAMES: [(&str, &str); 32] = [
        ("#DE", "divide error"),
        ("#DB", "debug"),
        ("NMI", "non-maskable interrupt"),
        ("#BP", "breakpoint"),
        ("#OF", "overflow"),
        ("#BR", "bound range exceeded"),
        ("#UD", "invalid opcode"),
        ("#NM", "device not available"),
        ("#DF", "double fault"),
        ("#CSO", "coprocessor segment overrun"),
        ("#TS", "invalid TSS"),
        ("#NP", "segment not present"),
        ("#SS", "stack-segment fault"),
        ("#GP", "general protection"),
        ("#PF", "page fault"),
        ("#15", "reserved"),
        ("#MF", "x87 floating-point error"),
        ("#AC", "alignment check"),
        ("#MC", "machine check"),
        ("#XM", "SIMD floating-point exception"),
        ("#VE", "virtualization exception"),
        ("#CP", "control protection"),
        ("#22", "reserved"),
        ("#23", "reserved"),
        ("#24", "reserved"),
        ("#25", "reserved"),
        ("#26", "reserved"),
        ("#27", "reserved"),
        ("#HV", "hypervisor injection"),
        ("#VC", "VMM communication"),
        ("#SX", "security exception"),
        ("#31", "reserved"),
    ];
    NAMES.get(vector as usize).copied().unwrap_or(("?", "?"))
}

/// The stack contents at the call into the kernel's exception handler: the
/// registers in the order ferrite's trap.S pushes them, the vector and error
/// code it pushes (0 where the CPU pushes none), then what the CPU pushed.
#[repr(C)]
#[derive(Debug, Default)]
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

/// What the CPU pushes on an interrupt (no error code).
#[repr(C)]
#[derive(Debug)]
pub struct InterruptFrame {
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// RFLAGS.IF: interrupts enabled.
pub const RFLAGS_IF: u64 = 1 << 9;

/// The first line of an exception report: which exception, on which CPU.
pub struct Headline {
    pub vector: u64,
    pub cpu: Option<usize>,
}

impl fmt::Display for Headline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mnemonic, name) = name(self.vector);
        write!(
            f,
            "CPU EXCEPTION: {mnemonic} {name} (vector {}) on ",
            self.vector
        )?;
        match self.cpu {
            Some(cpu) => write!(f, "cpu {cpu}"),
            None => write!(f, "an unknown cpu"),
        }
    }
}

/// The error code, decoded for #PF and for the exceptions whose code names
/// a segment selector or IDT entry (SDM 6.13, 4.7): ` (...)`, or nothing.
pub struct ErrorCode {
    pub vector: u64,
    pub code: u64,
    /// PVM runs the kernel in ring 3, so its faults say U=1.
    pub pvm_native: bool,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code;
        match self.vector {
            PAGE_FAULT_VECTOR => {
                write!(
                    f,
                    " ({}, {}, {}",
                    if code & 1 != 0 {
                        "protection violation"
                    } else {
                        "not present"
                    },
                    if code & 0x10 != 0 {
                        "instruction fetch"
                    } else if code & 2 != 0 {
                        "write"
                    } else {
                        "read"
                    },
                    match (code & 4 != 0, self.pvm_native) {
                        (true, true) => "U=1: PVM runs the kernel in ring 3",
                        (true, false) => "user",
                        (false, _) => "kernel",
                    },
                )?;
                if code & 8 != 0 {
                    write!(f, ", reserved bit set")?;
                }
                write!(f, ")")
            }
            10..=13 | 17 if code != 0 => {
                let table = match code >> 1 & 3 {
                    0 => "GDT",
                    2 => "LDT",
                    _ => "IDT",
                };
                write!(
                    f,
                    " ({table} index {}{})",
                    code >> 3 & 0x1fff,
                    if code & 1 != 0 { ", external" } else { "" }
                )
            }
            _ => Ok(()),
        }
    }
}

/// The report's register lines: the error code, the CPU-pushed state (and
/// CR2 for a #PF), the general-purpose registers; each line ends in `\n`.
pub struct FrameDump<'a> {
    pub frame: &'a TrapFrame,
    pub cr2: Option<u64>,
    pub pvm_native: bool,
}

impl fmt::Display for FrameDump<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = self.frame;
        let error = ErrorCode {
            vector: f.vector,
            code: f.error_code,
            pvm_native: self.pvm_native,
        };
        writeln!(out, "  error={:#x}{error}", f.error_code)?;
        write!(
            out,
            "  rip={:#x} cs={:#x} rflags={:#x} rsp={:#x} ss={:#x}",
            f.rip, f.cs, f.rflags, f.rsp, f.ss
        )?;
        if let Some(cr2) = self.cr2 {
            write!(out, " cr2={cr2:#x}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}",
            f.rax, f.rbx, f.rcx, f.rdx
        )?;
        writeln!(
            out,
            "  rsi={:#018x} rdi={:#018x} rbp={:#018x} r8 ={:#018x}",
            f.rsi, f.rdi, f.rbp, f.r8
        )?;
        writeln!(
            out,
            "  r9 ={:#018x} r10={:#018x} r11={:#018x} r12={:#018x}",
            f.r9, f.r10, f.r11, f.r12
        )?;
        writeln!(
            out,
            "  r13={:#018x} r14={:#018x} r15={:#018x}",
            f.r13, f.r14, f.r15
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_table_6_1() {
        assert_eq!(name(0), ("#DE", "divide error"));
        assert_eq!(name(NMI_VECTOR), ("NMI", "non-maskable interrupt"));
        assert_eq!(name(DOUBLE_FAULT_VECTOR).0, "#DF");
        assert_eq!(name(GENERAL_PROTECTION_VECTOR).0, "#GP");
        assert_eq!(name(PAGE_FAULT_VECTOR), ("#PF", "page fault"));
        assert_eq!(name(MACHINE_CHECK_VECTOR).0, "#MC");
        assert_eq!(name(21).0, "#CP");
        assert_eq!(name(32), ("?", "?"));
    }

    #[test]
    fn trap_frame_matches_trap_s() {
        // 15 registers, vector, error code, then the CPU's 5 words.
        assert_eq!(core::mem::size_of::<TrapFrame>(), 22 * 8);
        assert_eq!(core::mem::offset_of!(TrapFrame, vector), 15 * 8);
        assert_eq!(core::mem::offset_of!(TrapFrame, rip), 17 * 8);
    }

    #[test]
    fn headline() {
        let line = Headline {
            vector: 14,
            cpu: Some(1),
        }
        .to_string();
        assert_eq!(line, "CPU EXCEPTION: #PF page fault (vector 14) on cpu 1");
        let line = Headline {
            vector: 6,
            cpu: None,
        }
        .to_string();
        assert_eq!(
            line,
            "CPU EXCEPTION: #UD invalid opcode (vector 6) on an unknown cpu"
        );
    }

    #[test]
    fn page_fault_error_codes() {
        // SDM 4.7: P (bit 0), W/R (1), U/S (2), RSVD (3), I/D (4).
        let pf = |code, pvm_native| {
            ErrorCode {
                vector: 14,
                code,
                pvm_native,
            }
            .to_string()
        };
        assert_eq!(pf(0b00010, false), " (not present, write, kernel)");
        assert_eq!(
            pf(0b10001, false),
            " (protection violation, instruction fetch, kernel)"
        );
        assert_eq!(
            pf(0b01100, false),
            " (not present, read, user, reserved bit set)"
        );
        assert_eq!(
            pf(0b00100, true),
            " (not present, read, U=1: PVM runs the kernel in ring 3)"
        );
    }

    #[test]
    fn selector_error_codes() {
        // SDM 6.13: EXT (bit 0), IDT (1), TI (2), index (15..3).
        let gp = |code| {
            ErrorCode {
                vector: 13,
                code,
                pvm_native: false,
            }
            .to_string()
        };
        assert_eq!(gp(0x42), " (IDT index 8)");
        assert_eq!(gp(0x18), " (GDT index 3)");
        assert_eq!(gp(0x1d), " (LDT index 3, external)");
        assert_eq!(gp(0), "");
        assert_eq!(
            ErrorCode {
                vector: 6,
                code: 5,
                pvm_native: false
            }
            .to_string(),
            ""
        );
    }

    #[test]
    fn frame_dump() {
        let frame = TrapFrame {
            vector: 14,
            error_code: 2,
            rip: 0xffff_ffff_8010_0000,
            rax: 1,
            r15: 0xf,
            ..TrapFrame::default()
        };
        let dump = FrameDump {
            frame: &frame,
            cr2: Some(0x1000),
            pvm_native: false,
        }
        .to_string();
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0], "  error=0x2 (not present, write, kernel)");
        assert_eq!(
            lines[1],
            "  rip=0xffffffff80100000 cs=0x0 rflags=0x0 rsp=0x0 ss=0x0 cr2=0x1000"
        );
        assert!(lines[2].starts_with("  rax=0x0000000000000001 rbx="));
        assert_eq!(
            lines[5],
            "  r13=0x0000000000000000 r14=0x0000000000000000 r15=0x000000000000000f"
        );
    }
}
