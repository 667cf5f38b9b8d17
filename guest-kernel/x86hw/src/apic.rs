//! The local APIC (Intel SDM vol. 3, chapter 11): its registers, reached as
//! xAPIC MMIO offsets or x2APIC MSRs, IA32_APIC_BASE, and the encodings of
//! the local vector table (LVT), the interrupt command register (ICR) and
//! the timer.

/// IA32_APIC_BASE: where the APIC's registers are, and its mode.
pub const MSR_APIC_BASE: u32 = 0x1b;
/// IA32_TSC_DEADLINE: the TSC value at which the timer fires (deadline mode).
pub const MSR_TSC_DEADLINE: u32 = 0x6e0;
/// x2APIC register `offset` is MSR `X2APIC_MSR_BASE + offset / 16` (SDM 11.12.1.2).
const X2APIC_MSR_BASE: u32 = 0x800;

/// A value of IA32_APIC_BASE (SDM 11.4.4, figure 11-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApicBase(pub u64);

impl ApicBase {
    /// EXTD: x2APIC mode.
    const X2APIC: u64 = 1 << 10;
    /// EN: the APIC is globally enabled.
    const ENABLE: u64 = 1 << 11;
    const ADDRESS: u64 = 0x000f_ffff_ffff_f000;

    pub const fn enabled(self) -> bool {
        self.0 & Self::ENABLE != 0
    }

    pub const fn x2apic(self) -> bool {
        self.0 & Self::X2APIC != 0
    }

    /// Physical address of the xAPIC register page.
    pub const fn address(self) -> u64 {
        self.0 & Self::ADDRESS
    }

    /// The same value with EN set.
    pub const fn with_enable(self) -> Self {
        Self(self.0 | Self::ENABLE)
    }

    /// The same value with EN and EXTD set. Going from xAPIC to x2APIC mode
    /// takes two writes: EN first, then EN with EXTD (EN=0, EXTD=1 is invalid).
    pub const fn with_x2apic(self) -> Self {
        Self(self.0 | Self::ENABLE | Self::X2APIC)
    }
}

/// A local APIC register, by its xAPIC offset (SDM vol. 3, table 11-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(u32);

impl Reg {
    pub const ID: Self = Self(0x20);
    pub const TPR: Self = Self(0x80);
    pub const EOI: Self = Self(0xb0);
    pub const SVR: Self = Self(0xf0);
    pub const ESR: Self = Self(0x280);
    pub const ICR_LOW: Self = Self(0x300);
    pub const ICR_HIGH: Self = Self(0x310);
    pub const LVT_TIMER: Self = Self(0x320);
    pub const LVT_LINT0: Self = Self(0x350);
    pub const LVT_LINT1: Self = Self(0x360);
    pub const LVT_ERROR: Self = Self(0x370);
    pub const TIMER_INITIAL: Self = Self(0x380);
    pub const TIMER_CURRENT: Self = Self(0x390);
    pub const TIMER_DIVIDE: Self = Self(0x3e0);

    /// The interrupt request register word that holds `vector`, and the
    /// vector's bit in it (IRR: eight 32-bit registers from 0x200, 16 bytes apart).
    pub const fn irr(vector: u8) -> (Self, u32) {
        (
            Self(0x200 + (vector / 32) as u32 * 0x10),
            1 << (vector % 32),
        )
    }

    /// Byte offset in the xAPIC register page.
    pub const fn mmio_offset(self) -> u32 {
        self.0
    }

    /// The MSR of this register in x2APIC mode.
    pub const fn x2apic_msr(self) -> u32 {
        X2APIC_MSR_BASE + self.0 / 16
    }
}

/// This CPU's APIC id from the ID register: all 32 bits in x2APIC mode,
/// bits 31..24 in xAPIC mode.
pub const fn id_from_register(raw: u32, x2apic: bool) -> u32 {
    if x2apic { raw } else { raw >> 24 }
}

/// SVR value that enables the APIC (bit 8) with `spurious` as the spurious vector.
pub const fn svr_enabled(spurious: u8) -> u32 {
    1 << 8 | spurious as u32
}

/// A local vector table entry (SDM 11.5.1, figure 11-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lvt(pub u32);

impl Lvt {
    const MASKED: u32 = 1 << 16;
    /// Timer mode, bits 18..17: 01 periodic, 10 TSC-deadline (00 one-shot).
    const TIMER_PERIODIC: u32 = 1 << 17;
    const TIMER_TSC_DEADLINE: u32 = 2 << 17;

    /// Masked: the source raises nothing (`vector` is kept for when it is unmasked).
    pub const fn masked(vector: u8) -> Self {
        Self(Self::MASKED | vector as u32)
    }

    /// Fixed delivery of `vector`, unmasked (one-shot mode for the timer).
    pub const fn fixed(vector: u8) -> Self {
        Self(vector as u32)
    }

    pub const fn timer_periodic(vector: u8) -> Self {
        Self(Self::TIMER_PERIODIC | vector as u32)
    }

    pub const fn timer_tsc_deadline(vector: u8) -> Self {
        Self(Self::TIMER_TSC_DEADLINE | vector as u32)
    }
}

/// A message for the interrupt command register (SDM 11.6.1, figure 11-12):
/// physical destination mode, no shorthand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icr {
    /// The low 32 bits: vector, delivery mode, level, trigger mode.
    pub low: u32,
    /// The destination APIC id.
    pub dest: u32,
}

impl Icr {
    /// Delivery status (xAPIC, read-only): the previous message is still being sent.
    pub const DELIVERY_PENDING: u32 = 1 << 12;
    const ASSERT: u32 = 1 << 14;
    const LEVEL_TRIGGER: u32 = 1 << 15;
    const DELIVERY_INIT: u32 = 5 << 8;
    const DELIVERY_STARTUP: u32 = 6 << 8;

    /// A fixed, edge-triggered interrupt with `vector` to APIC id `dest`.
    pub const fn fixed(dest: u32, vector: u8) -> Self {
        Self {
            low: vector as u32 | Self::ASSERT,
            dest,
        }
    }

    /// INIT, level-triggered, asserted (SDM 9.4.4.1: the first message of INIT-SIPI-SIPI).
    pub const fn init_assert(dest: u32) -> Self {
        Self {
            low: Self::DELIVERY_INIT | Self::LEVEL_TRIGGER | Self::ASSERT,
            dest,
        }
    }

    /// INIT, level-triggered, de-asserted (ends the INIT).
    pub const fn init_deassert(dest: u32) -> Self {
        Self {
            low: Self::DELIVERY_INIT | Self::LEVEL_TRIGGER,
            dest,
        }
    }

    /// STARTUP: the target starts in real mode at physical `page << 12`.
    pub const fn startup(dest: u32, page: u8) -> Self {
        Self {
            low: Self::DELIVERY_STARTUP | page as u32,
            dest,
        }
    }

    /// The one 64-bit write of the x2APIC ICR (destination in bits 63..32).
    pub const fn x2apic_value(self) -> u64 {
        (self.dest as u64) << 32 | self.low as u64
    }

    /// The xAPIC ICR high word (destination in bits 31..24: xAPIC ids are 8 bits).
    pub const fn xapic_high(self) -> u32 {
        self.dest << 24
    }
}

/// The timer's divide configuration register (SDM 11.5.4, figure 11-10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divide {
    By1 = 0b1011,
    By16 = 0b0011,
}

/// Periodic mode: the divide value and initial count that make a timer
/// clocked at `timer_khz` fire `hz` times a second (at least 1 count; a
/// period too long for 32 bits at divide-by-1 uses divide-by-16).
pub const fn periodic_timer(timer_khz: u64, hz: u32) -> (Divide, u32) {
    let counts = timer_khz * 1000 / hz as u64;
    let (divide, initial) = if counts <= u32::MAX as u64 {
        (Divide::By1, counts)
    } else {
        let divided = counts / 16;
        (
            Divide::By16,
            if divided < u32::MAX as u64 {
                divided
            } else {
                u32::MAX as u64
            },
        )
    };
    (divide, if initial == 0 { 1 } else { initial as u32 })
}

/// TSC-deadline mode: TSC ticks between two of `hz` ticks a second (at least 1).
pub const fn deadline_period(tsc_khz: u64, hz: u32) -> u64 {
    let period = tsc_khz * 1000 / hz as u64;
    if period == 0 { 1 } else { period }
}

/// The deadline after `previous`, one `period` on, so ticks do not drift;
/// a tick already late is skipped, not queued: then `now + period`.
pub const fn next_deadline(previous: u64, period: u64, now: u64) -> u64 {
    let next = previous + period;
    if next <= now { now + period } else { next }
}

/// The timer's rate in kHz from `counted` timer ticks (divide-by-1) in `elapsed_ns`.
pub const fn timer_khz(counted: u64, elapsed_ns: u64) -> u64 {
    counted * 1_000_000 / if elapsed_ns == 0 { 1 } else { elapsed_ns }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x2apic_msrs_are_the_sdm_ones() {
        // SDM vol. 3, table 11-6 (x2APIC register address space).
        assert_eq!(Reg::ID.x2apic_msr(), 0x802);
        assert_eq!(Reg::TPR.x2apic_msr(), 0x808);
        assert_eq!(Reg::EOI.x2apic_msr(), 0x80b);
        assert_eq!(Reg::SVR.x2apic_msr(), 0x80f);
        assert_eq!(Reg::ESR.x2apic_msr(), 0x828);
        assert_eq!(Reg::ICR_LOW.x2apic_msr(), 0x830);
        assert_eq!(Reg::LVT_TIMER.x2apic_msr(), 0x832);
        assert_eq!(Reg::LVT_LINT0.x2apic_msr(), 0x835);
        assert_eq!(Reg::LVT_LINT1.x2apic_msr(), 0x836);
        assert_eq!(Reg::LVT_ERROR.x2apic_msr(), 0x837);
        assert_eq!(Reg::TIMER_INITIAL.x2apic_msr(), 0x838);
        assert_eq!(Reg::TIMER_CURRENT.x2apic_msr(), 0x839);
        assert_eq!(Reg::TIMER_DIVIDE.x2apic_msr(), 0x83e);
        assert_eq!(Reg::TIMER_DIVIDE.mmio_offset(), 0x3e0);
    }

    #[test]
    fn irr_word_and_bit() {
        // IRR bits 31..0 at 0x200 (vectors 0..31), ..., bits 255..224 at 0x270.
        assert_eq!(Reg::irr(0x30), (Reg(0x210), 1 << 16));
        assert_eq!(Reg::irr(0xf0), (Reg(0x270), 1 << 16));
        assert_eq!(Reg::irr(0xff), (Reg(0x270), 1 << 31));
        assert_eq!(Reg::irr(0x20).0.x2apic_msr(), 0x821);
    }

    #[test]
    fn apic_base_fields() {
        // Reset value on a boot processor: 0xfee00000, EN and BSP (bit 8) set.
        let reset = ApicBase(0xfee0_0900);
        assert!(reset.enabled() && !reset.x2apic());
        assert_eq!(reset.address(), 0xfee0_0000);
        assert_eq!(ApicBase(0xfee0_0000).with_enable(), ApicBase(0xfee0_0800));
        assert_eq!(ApicBase(0xfee0_0100).with_x2apic(), ApicBase(0xfee0_0d00));
        assert!(ApicBase(0xfee0_0d00).x2apic());
    }

    #[test]
    fn id_and_svr() {
        assert_eq!(id_from_register(0x0300_0000, false), 3);
        assert_eq!(id_from_register(0x0000_0103, true), 0x103);
        assert_eq!(svr_enabled(0xff), 0x1ff);
    }

    #[test]
    fn lvt_encodings() {
        assert_eq!(Lvt::masked(0xf0).0, 0x0001_00f0);
        assert_eq!(Lvt::masked(0).0, 0x0001_0000);
        assert_eq!(Lvt::fixed(0xfe).0, 0xfe);
        assert_eq!(Lvt::timer_periodic(0xf0).0, 0x0002_00f0);
        assert_eq!(Lvt::timer_tsc_deadline(0xf0).0, 0x0004_00f0);
    }

    #[test]
    fn icr_encodings_match_linux_and_the_sdm() {
        // Linux: APIC_INT_LEVELTRIG | APIC_INT_ASSERT | APIC_DM_INIT = 0xc500,
        // then APIC_INT_LEVELTRIG | APIC_DM_INIT = 0x8500; APIC_DM_STARTUP = 0x600.
        assert_eq!(Icr::init_assert(1).low, 0xc500);
        assert_eq!(Icr::init_deassert(1).low, 0x8500);
        assert_eq!(Icr::startup(1, 0x9f).low, 0x069f);
        assert_eq!(Icr::fixed(2, 0xf1).low, 0x40f1);
        assert_eq!(Icr::fixed(2, 0xf1).x2apic_value(), 0x0000_0002_0000_40f1);
        assert_eq!(Icr::fixed(0x12345, 0xf1).x2apic_value() >> 32, 0x12345);
        assert_eq!(Icr::fixed(3, 0xf1).xapic_high(), 0x0300_0000);
    }

    #[test]
    fn periodic_timer_divides_only_when_it_must() {
        // SDM figure 11-10: 1011b divides by 1, 0011b by 16.
        assert_eq!(Divide::By1 as u32, 0b1011);
        assert_eq!(Divide::By16 as u32, 0b0011);
        // 1 GHz timer, 1 kHz tick: 10^6 counts.
        assert_eq!(periodic_timer(1_000_000, 1000), (Divide::By1, 1_000_000));
        // 4 GHz at 1 Hz still fits 32 bits; 8 GHz does not.
        assert_eq!(periodic_timer(4_000_000, 1), (Divide::By1, 4_000_000_000));
        assert_eq!(periodic_timer(8_000_000, 1), (Divide::By16, 500_000_000));
        assert_eq!(periodic_timer(1, 100_000), (Divide::By1, 1));
    }

    #[test]
    fn deadlines_do_not_drift_and_skip_late_ticks() {
        assert_eq!(deadline_period(2_000_000, 1000), 2_000_000);
        assert_eq!(deadline_period(1, 100_000), 1);
        assert_eq!(next_deadline(1000, 100, 1050), 1100);
        assert_eq!(next_deadline(1000, 100, 1100), 1200);
        assert_eq!(next_deadline(1000, 100, 5000), 5100);
    }

    #[test]
    fn timer_rate_from_a_measurement() {
        assert_eq!(timer_khz(1_000_000, 10_000_000), 100_000);
        assert_eq!(timer_khz(5, 0), 5_000_000);
    }
}
