//! MAC and IPv4 addresses, and the `ip=ADDR/PREFIX` parameter.

use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: Self = Self([0xff; 6]);
    pub const ZERO: Self = Self([0; 6]);

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A locally administered unicast address derived from `seed` (for a
    /// device that has no VIRTIO_NET_F_MAC).
    pub fn local(seed: u32) -> Self {
        let s = seed.to_be_bytes();
        Self([0x02, 0x46, s[0], s[1], s[2], s[3]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Ipv4Addr(pub [u8; 4]);

impl Ipv4Addr {
    pub const UNSPECIFIED: Self = Self([0; 4]);

    /// Dotted quad `a.b.c.d`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut out = [0u8; 4];
        let mut parts = s.split('.');
        for byte in &mut out {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *byte = part.parse().ok()?;
        }
        parts.next().is_none().then_some(Self(out))
    }

    /// `a.b.c.d/prefix`; without `/prefix` the prefix is 16 (the
    /// link-local 169.254.0.0/16 setups this is used with).
    pub fn parse_cidr(s: &str) -> Option<(Self, u8)> {
        match s.split_once('/') {
            Some((ip, prefix)) => {
                if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let prefix: u8 = prefix.parse().ok()?;
                (prefix <= 32).then_some(())?;
                Some((Self::parse(ip)?, prefix))
            }
            None => Some((Self::parse(s)?, 16)),
        }
    }

    pub fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// Whether `other` is in this address's `/prefix` network.
    pub fn same_network(self, other: Self, prefix: u8) -> bool {
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
        self.to_u32() & mask == other.to_u32() & mask
    }
}

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(Ipv4Addr::parse("169.254.0.2"), Some(Ipv4Addr([169, 254, 0, 2])));
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", "1.2.3.+4", "1.2.3.0004"] {
            assert_eq!(Ipv4Addr::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Ipv4Addr::parse_cidr("169.254.0.2/16"), Some((Ipv4Addr([169, 254, 0, 2]), 16)));
        assert_eq!(Ipv4Addr::parse_cidr("10.0.0.1"), Some((Ipv4Addr([10, 0, 0, 1]), 16)));
        assert_eq!(Ipv4Addr::parse_cidr("10.0.0.1/33"), None);
        assert_eq!(Ipv4Addr::parse_cidr("10.0.0.1/x"), None);
        assert_eq!(Ipv4Addr([169, 254, 0, 1]).to_string(), "169.254.0.1");
        assert_eq!(MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]).to_string(), "52:54:00:12:34:56");
        assert_eq!(MacAddr::local(1).0[0] & 3, 2, "locally administered, unicast");
    }

    #[test]
    fn networks() {
        let a = Ipv4Addr([169, 254, 0, 2]);
        assert!(a.same_network(Ipv4Addr([169, 254, 9, 9]), 16));
        assert!(!a.same_network(Ipv4Addr([169, 253, 0, 2]), 16));
        assert!(a.same_network(Ipv4Addr([1, 2, 3, 4]), 0));
        assert!(!a.same_network(Ipv4Addr([169, 254, 0, 3]), 32));
    }
}
