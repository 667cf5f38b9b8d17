//! Wire formats: Ethernet II, ARP for IPv4 over Ethernet, IPv4 headers,
//! ICMP echo, and the Internet checksum (RFC 1071). Parsers take untrusted
//! bytes and return `None` (or an error) for anything malformed; writers
//! fill a caller's buffer and return the bytes written (0 if it is too small).

use super::addr::{Ipv4Addr, MacAddr};

pub const ETH_HDR: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ARP_LEN: usize = 28;
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;
pub const IPV4_HDR: usize = 20;
pub const PROTO_ICMP: u8 = 1;
pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP_HDR: usize = 8;
/// Ethernet payloads shorter than this are padded (60-byte minimum frame).
pub const ETH_MIN_FRAME: usize = 60;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac_at(b: &[u8], at: usize) -> MacAddr {
    MacAddr(b[at..at + 6].try_into().expect("6 bytes"))
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The Internet checksum: ones' complement of the ones' complement sum of
/// 16-bit big-endian words (an odd last byte is padded with zero). Over data
/// that includes a correct checksum field the result is 0.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
}

/// Header and payload of an Ethernet II frame (no VLAN tags).
pub fn parse_eth(frame: &[u8]) -> Option<(EthHeader, &[u8])> {
    if frame.len() < ETH_HDR {
        return None;
    }
    let h = EthHeader { dst: mac_at(frame, 0), src: mac_at(frame, 6), ethertype: be16(frame, 12) };
    Some((h, &frame[ETH_HDR..]))
}

pub fn write_eth(out: &mut [u8], h: &EthHeader) -> usize {
    if out.len() < ETH_HDR {
        return 0;
    }
    out[0..6].copy_from_slice(&h.dst.0);
    out[6..12].copy_from_slice(&h.src.0);
    out[12..14].copy_from_slice(&h.ethertype.to_be_bytes());
    ETH_HDR
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

pub fn parse_arp(payload: &[u8]) -> Option<Arp> {
    if payload.len() < ARP_LEN {
        return None;
    }
    // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
    if be16(payload, 0) != 1 || be16(payload, 2) != ETHERTYPE_IPV4 || payload[4] != 6 || payload[5] != 4 {
        return None;
    }
    Some(Arp {
        op: be16(payload, 6),
        sender_mac: mac_at(payload, 8),
        sender_ip: ip_at(payload, 14),
        target_mac: mac_at(payload, 18),
        target_ip: ip_at(payload, 24),
    })
}

pub fn write_arp(out: &mut [u8], a: &Arp) -> usize {
    if out.len() < ARP_LEN {
        return 0;
    }
    out[0..2].copy_from_slice(&1u16.to_be_bytes());
    out[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    out[4] = 6;
    out[5] = 4;
    out[6..8].copy_from_slice(&a.op.to_be_bytes());
    out[8..14].copy_from_slice(&a.sender_mac.0);
    out[14..18].copy_from_slice(&a.sender_ip.0);
    out[18..24].copy_from_slice(&a.target_mac.0);
    out[24..28].copy_from_slice(&a.target_ip.0);
    ARP_LEN
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub id: u16,
    /// Header length in bytes (options included).
    pub header_len: usize,
    pub total_len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    TooShort,
    NotVersion4,
    BadHeaderLength,
    BadTotalLength,
    BadChecksum,
    Fragment,
}

/// Header and payload (trimmed to the total length: Ethernet padding goes).
pub fn parse_ipv4(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), Ipv4Error> {
    if packet.len() < IPV4_HDR {
        return Err(Ipv4Error::TooShort);
    }
    if packet[0] >> 4 != 4 {
        return Err(Ipv4Error::NotVersion4);
    }
    let header_len = usize::from(packet[0] & 15) * 4;
    if header_len < IPV4_HDR || header_len > packet.len() {
        return Err(Ipv4Error::BadHeaderLength);
    }
    let total_len = usize::from(be16(packet, 2));
    if total_len < header_len || total_len > packet.len() {
        return Err(Ipv4Error::BadTotalLength);
    }
    if checksum(&packet[..header_len]) != 0 {
        return Err(Ipv4Error::BadChecksum);
    }
    // More-fragments flag or a fragment offset: not reassembled here.
    if be16(packet, 6) & 0x3fff != 0 {
        return Err(Ipv4Error::Fragment);
    }
    let h = Ipv4Header {
        src: ip_at(packet, 12),
        dst: ip_at(packet, 16),
        protocol: packet[9],
        ttl: packet[8],
        id: be16(packet, 4),
        header_len,
        total_len,
    };
    Ok((h, &packet[header_len..total_len]))
}

/// A 20-byte header (no options, don't-fragment set) with its checksum.
pub fn write_ipv4(out: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, id: u16, payload_len: usize) -> usize {
    let total = IPV4_HDR + payload_len;
    if out.len() < IPV4_HDR || total > usize::from(u16::MAX) {
        return 0;
    }
    let h = &mut out[..IPV4_HDR];
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    h[8] = 64;
    h[9] = protocol;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&src.0);
    h[16..20].copy_from_slice(&dst.0);
    let sum = checksum(h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    IPV4_HDR
}

/// An ICMP echo request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo<'a> {
    /// ICMP_ECHO_REQUEST or ICMP_ECHO_REPLY.
    pub kind: u8,
    pub id: u16,
    pub seq: u16,
    pub data: &'a [u8],
}

/// An echo request or reply with a valid checksum; anything else is `None`.
pub fn parse_echo(icmp: &[u8]) -> Option<Echo<'_>> {
    if icmp.len() < ICMP_HDR || checksum(icmp) != 0 || icmp[1] != 0 {
        return None;
    }
    let kind = icmp[0];
    if kind != ICMP_ECHO_REQUEST && kind != ICMP_ECHO_REPLY {
        return None;
    }
    Some(Echo { kind, id: be16(icmp, 4), seq: be16(icmp, 6), data: &icmp[ICMP_HDR..] })
}

pub fn write_echo(out: &mut [u8], e: &Echo<'_>) -> usize {
    let len = ICMP_HDR + e.data.len();
    if out.len() < len {
        return 0;
    }
    out[0] = e.kind;
    out[1] = 0;
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..6].copy_from_slice(&e.id.to_be_bytes());
    out[6..8].copy_from_slice(&e.seq.to_be_bytes());
    out[ICMP_HDR..len].copy_from_slice(e.data);
    let sum = checksum(&out[..len]);
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xab]), !0xab00);
    }

    #[test]
    fn checksum_of_a_real_ipv4_header() {
        // A header from the wild (Wikipedia's example), checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01,
            0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
    }

    #[test]
    fn ipv4_round_trip_and_rejections() {
        let mut buf = [0u8; 64];
        let src = Ipv4Addr([169, 254, 0, 2]);
        let dst = Ipv4Addr([169, 254, 0, 1]);
        assert_eq!(write_ipv4(&mut buf, src, dst, PROTO_ICMP, 7, 12), 20);
        let (h, payload) = parse_ipv4(&buf[..40]).unwrap();
        assert_eq!((h.src, h.dst, h.protocol, h.id, h.total_len), (src, dst, PROTO_ICMP, 7, 32));
        assert_eq!(payload.len(), 12, "trailing padding trimmed");
        assert_eq!(parse_ipv4(&buf[..31]).unwrap_err(), Ipv4Error::BadTotalLength);
        assert_eq!(parse_ipv4(&buf[..10]).unwrap_err(), Ipv4Error::TooShort);
        let mut bad = buf;
        bad[15] ^= 1;
        assert_eq!(parse_ipv4(&bad).unwrap_err(), Ipv4Error::BadChecksum);
        let mut v6 = buf;
        v6[0] = 0x65;
        assert_eq!(parse_ipv4(&v6).unwrap_err(), Ipv4Error::NotVersion4);
        let mut ihl = buf;
        ihl[0] = 0x44;
        assert_eq!(parse_ipv4(&ihl).unwrap_err(), Ipv4Error::BadHeaderLength);
        let mut frag = [0u8; 64];
        write_ipv4(&mut frag, src, dst, PROTO_ICMP, 7, 12);
        frag[6] = 0x20; // more fragments
        frag[10] = 0;
        frag[11] = 0;
        let sum = checksum(&frag[..20]);
        frag[10..12].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(parse_ipv4(&frag).unwrap_err(), Ipv4Error::Fragment);
    }

    #[test]
    fn echo_round_trip() {
        let mut buf = [0u8; 64];
        let n = write_echo(&mut buf, &Echo { kind: ICMP_ECHO_REQUEST, id: 0x1234, seq: 9, data: b"hello" });
        assert_eq!(n, 13);
        let e = parse_echo(&buf[..n]).unwrap();
        assert_eq!((e.kind, e.id, e.seq, e.data), (ICMP_ECHO_REQUEST, 0x1234, 9, &b"hello"[..]));
        assert_eq!(write_echo(&mut [0u8; 10], &e), 0, "too small");
        buf[9] ^= 0xff;
        assert!(parse_echo(&buf[..n]).is_none(), "bad checksum");
        assert!(parse_echo(&buf[..4]).is_none());
    }

    #[test]
    fn arp_round_trip() {
        let a = Arp {
            op: ARP_REQUEST,
            sender_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            sender_ip: Ipv4Addr([169, 254, 0, 1]),
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr([169, 254, 0, 2]),
        };
        let mut buf = [0u8; 28];
        assert_eq!(write_arp(&mut buf, &a), 28);
        assert_eq!(parse_arp(&buf), Some(a));
        buf[5] = 16;
        assert_eq!(parse_arp(&buf), None, "IPv6 lengths");
        assert_eq!(parse_arp(&buf[..27]), None);
    }

    #[test]
    fn eth_round_trip() {
        let h = EthHeader { dst: MacAddr::BROADCAST, src: MacAddr([2, 0, 0, 0, 0, 1]), ethertype: ETHERTYPE_ARP };
        let mut buf = [0u8; 20];
        assert_eq!(write_eth(&mut buf, &h), 14);
        let (p, payload) = parse_eth(&buf).unwrap();
        assert_eq!(p, h);
        assert_eq!(payload.len(), 6);
        assert!(parse_eth(&buf[..13]).is_none());
    }
}
