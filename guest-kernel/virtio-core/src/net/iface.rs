//! One IPv4 interface on one Ethernet link: answers ARP requests for its
//! address and ICMP echo requests to it, learns neighbours, and builds ARP
//! requests and echo requests. No routing: every peer is on the link.

use super::addr::{Ipv4Addr, MacAddr};
use super::wire::{self, Arp, Echo, EthHeader};

/// Neighbour cache entries (replaced round-robin).
pub const ARP_ENTRIES: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfStats {
    pub rx_frames: u64,
    /// Frames not for us (other unicast MAC, other protocols, other IPs).
    pub rx_ignored: u64,
    /// Malformed frames (bad lengths, checksums, fragments).
    pub rx_malformed: u64,
    pub arp_requests_answered: u64,
    pub arp_replies_received: u64,
    pub echo_requests_answered: u64,
    pub echo_replies_received: u64,
}

/// Something the caller may want to know about a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    None,
    /// An ARP reply told us `ip` is at `mac`.
    ArpReply { ip: Ipv4Addr, mac: MacAddr },
    /// An echo reply arrived for us.
    EchoReply { from: Ipv4Addr, id: u16, seq: u16, data_len: usize },
    /// We answered an echo request from `from`.
    EchoAnswered { from: Ipv4Addr, seq: u16 },
}

/// Result of [`Interface::receive`]: a frame to send back (its length in
/// the caller's output buffer), and an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub reply_len: Option<usize>,
    pub event: Event,
}

impl Outcome {
    const NOTHING: Self = Self { reply_len: None, event: Event::None };
}

pub struct Interface {
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    neighbours: [Option<(Ipv4Addr, MacAddr)>; ARP_ENTRIES],
    next_slot: usize,
    ip_id: u16,
    pub stats: IfStats,
}

impl Interface {
    pub fn new(mac: MacAddr, ip: Ipv4Addr, prefix: u8) -> Self {
        Self { mac, ip, prefix, neighbours: [None; ARP_ENTRIES], next_slot: 0, ip_id: 1, stats: IfStats::default() }
    }

    /// The MAC address of neighbour `ip`, if known.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.neighbours.iter().flatten().find(|(i, _)| *i == ip).map(|&(_, m)| m)
    }

    /// Records (or updates) a neighbour.
    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if ip == Ipv4Addr::UNSPECIFIED || mac.is_broadcast() || mac.0[0] & 1 != 0 {
            return;
        }
        if let Some(entry) = self.neighbours.iter_mut().flatten().find(|(i, _)| *i == ip) {
            entry.1 = mac;
            return;
        }
        self.neighbours[self.next_slot] = Some((ip, mac));
        self.next_slot = (self.next_slot + 1) % ARP_ENTRIES;
    }

    /// Handles one received Ethernet frame; a reply, if any, is written to
    /// `out` (which should hold a full frame, [`super::MAX_FRAME`] bytes).
    pub fn receive(&mut self, frame: &[u8], out: &mut [u8]) -> Outcome {
        self.stats.rx_frames += 1;
        let Some((eth, payload)) = wire::parse_eth(frame) else {
            self.stats.rx_malformed += 1;
            return Outcome::NOTHING;
        };
        if eth.dst != self.mac && !eth.dst.is_broadcast() {
            self.stats.rx_ignored += 1;
            return Outcome::NOTHING;
        }
        match eth.ethertype {
            wire::ETHERTYPE_ARP => self.receive_arp(payload, out),
            wire::ETHERTYPE_IPV4 => self.receive_ipv4(&eth, payload, out),
            _ => {
                self.stats.rx_ignored += 1;
                Outcome::NOTHING
            }
        }
    }

    fn receive_arp(&mut self, payload: &[u8], out: &mut [u8]) -> Outcome {
        let Some(arp) = wire::parse_arp(payload) else {
            self.stats.rx_malformed += 1;
            return Outcome::NOTHING;
        };
        if arp.target_ip != self.ip {
            self.stats.rx_ignored += 1;
            return Outcome::NOTHING;
        }
        // RFC 826: the target is us, so remember the sender.
        self.learn(arp.sender_ip, arp.sender_mac);
        match arp.op {
            wire::ARP_REQUEST => {
                let reply = Arp {
                    op: wire::ARP_REPLY,
                    sender_mac: self.mac,
                    sender_ip: self.ip,
                    target_mac: arp.sender_mac,
                    target_ip: arp.sender_ip,
                };
                let len = self.frame(out, arp.sender_mac, wire::ETHERTYPE_ARP, |p| wire::write_arp(p, &reply));
                if len.is_some() {
                    self.stats.arp_requests_answered += 1;
                }
                Outcome { reply_len: len, event: Event::None }
            }
            wire::ARP_REPLY => {
                self.stats.arp_replies_received += 1;
                Outcome { reply_len: None, event: Event::ArpReply { ip: arp.sender_ip, mac: arp.sender_mac } }
            }
            _ => {
                self.stats.rx_ignored += 1;
                Outcome::NOTHING
            }
        }
    }

    fn receive_ipv4(&mut self, eth: &EthHeader, payload: &[u8], out: &mut [u8]) -> Outcome {
        let Ok((ip, body)) = wire::parse_ipv4(payload) else {
            self.stats.rx_malformed += 1;
            return Outcome::NOTHING;
        };
        if ip.dst != self.ip || ip.protocol != wire::PROTO_ICMP {
            self.stats.rx_ignored += 1;
            return Outcome::NOTHING;
        }
        let Some(echo) = wire::parse_echo(body) else {
            self.stats.rx_malformed += 1;
            return Outcome::NOTHING;
        };
        if echo.kind == wire::ICMP_ECHO_REPLY {
            self.stats.echo_replies_received += 1;
            let event = Event::EchoReply { from: ip.src, id: echo.id, seq: echo.seq, data_len: echo.data.len() };
            return Outcome { reply_len: None, event };
        }
        // An echo request: answer to the sender's MAC with the same data.
        let reply = Echo { kind: wire::ICMP_ECHO_REPLY, ..echo };
        let len = self.ipv4_frame(out, eth.src, ip.src, |p| wire::write_echo(p, &reply));
        if len.is_some() {
            self.stats.echo_requests_answered += 1;
        }
        Outcome { reply_len: len, event: Event::EchoAnswered { from: ip.src, seq: echo.seq } }
    }

    /// A broadcast "who has `target`?" into `out`; returns its length.
    pub fn arp_request(&self, target: Ipv4Addr, out: &mut [u8]) -> Option<usize> {
        let req = Arp {
            op: wire::ARP_REQUEST,
            sender_mac: self.mac,
            sender_ip: self.ip,
            target_mac: MacAddr::ZERO,
            target_ip: target,
        };
        self.frame(out, MacAddr::BROADCAST, wire::ETHERTYPE_ARP, |p| wire::write_arp(p, &req))
    }

    /// An echo request to `dst` at `dst_mac` with `data` into `out`.
    pub fn echo_request(
        &mut self,
        dst_mac: MacAddr,
        dst: Ipv4Addr,
        id: u16,
        seq: u16,
        data: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let req = Echo { kind: wire::ICMP_ECHO_REQUEST, id, seq, data };
        self.ipv4_frame(out, dst_mac, dst, |p| wire::write_echo(p, &req))
    }

    /// Ethernet header + body written by `body`, padded to 60 bytes.
    fn frame(&self, out: &mut [u8], dst: MacAddr, ethertype: u16, body: impl FnOnce(&mut [u8]) -> usize) -> Option<usize> {
        let eth = EthHeader { dst, src: self.mac, ethertype };
        if wire::write_eth(out, &eth) == 0 {
            return None;
        }
        let n = body(&mut out[wire::ETH_HDR..]);
        if n == 0 {
            return None;
        }
        let len = wire::ETH_HDR + n;
        if len < wire::ETH_MIN_FRAME && out.len() >= wire::ETH_MIN_FRAME {
            out[len..wire::ETH_MIN_FRAME].fill(0);
            return Some(wire::ETH_MIN_FRAME);
        }
        Some(len)
    }

    fn ipv4_frame(
        &mut self,
        out: &mut [u8],
        dst_mac: MacAddr,
        dst: Ipv4Addr,
        payload: impl FnOnce(&mut [u8]) -> usize,
    ) -> Option<usize> {
        let id = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(1);
        let src = self.ip;
        self.frame(out, dst_mac, wire::ETHERTYPE_IPV4, |p| {
            if p.len() < wire::IPV4_HDR {
                return 0;
            }
            let (head, rest) = p.split_at_mut(wire::IPV4_HDR);
            let n = payload(rest);
            if n == 0 || wire::write_ipv4(head, src, dst, wire::PROTO_ICMP, id, n) == 0 {
                return 0;
            }
            wire::IPV4_HDR + n
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::MAX_FRAME;

    const HOST_MAC: MacAddr = MacAddr([0x0a, 0, 0, 0, 0, 1]);
    const HOST_IP: Ipv4Addr = Ipv4Addr([169, 254, 0, 1]);
    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const GUEST_IP: Ipv4Addr = Ipv4Addr([169, 254, 0, 2]);

    fn pair() -> (Interface, Interface) {
        (Interface::new(HOST_MAC, HOST_IP, 16), Interface::new(GUEST_MAC, GUEST_IP, 16))
    }

    #[test]
    fn answers_arp_for_its_address_only() {
        let (host, mut guest) = pair();
        let mut req = [0u8; MAX_FRAME];
        let n = host.arp_request(GUEST_IP, &mut req).unwrap();
        assert_eq!(n, 60, "padded to the minimum frame");
        let mut out = [0u8; MAX_FRAME];
        let o = guest.receive(&req[..n], &mut out);
        let len = o.reply_len.expect("an ARP reply");
        let (eth, payload) = wire::parse_eth(&out[..len]).unwrap();
        assert_eq!((eth.dst, eth.src, eth.ethertype), (HOST_MAC, GUEST_MAC, wire::ETHERTYPE_ARP));
        let arp = wire::parse_arp(payload).unwrap();
        assert_eq!(arp.op, wire::ARP_REPLY);
        assert_eq!((arp.sender_mac, arp.sender_ip), (GUEST_MAC, GUEST_IP));
        assert_eq!((arp.target_mac, arp.target_ip), (HOST_MAC, HOST_IP));
        assert_eq!(guest.lookup(HOST_IP), Some(HOST_MAC), "learned the asker");
        assert_eq!(guest.stats.arp_requests_answered, 1);

        let n = host.arp_request(Ipv4Addr([169, 254, 0, 99]), &mut req).unwrap();
        assert_eq!(guest.receive(&req[..n], &mut out), Outcome::NOTHING);
    }

    #[test]
    fn arp_reply_is_reported() {
        let (mut host, mut guest) = pair();
        let mut req = [0u8; MAX_FRAME];
        let n = guest.arp_request(HOST_IP, &mut req).unwrap();
        let mut reply = [0u8; MAX_FRAME];
        let m = host.receive(&req[..n], &mut reply).reply_len.unwrap();
        let mut out = [0u8; MAX_FRAME];
        let o = guest.receive(&reply[..m], &mut out);
        assert_eq!(o.event, Event::ArpReply { ip: HOST_IP, mac: HOST_MAC });
        assert_eq!(guest.lookup(HOST_IP), Some(HOST_MAC));
    }

    #[test]
    fn ping_both_ways() {
        let (mut host, mut guest) = pair();
        let mut req = [0u8; MAX_FRAME];
        let data: Vec<u8> = (0..56u8).collect();
        let n = host.echo_request(GUEST_MAC, GUEST_IP, 0x77, 3, &data, &mut req).unwrap();
        assert_eq!(n, 14 + 20 + 8 + 56);
        let mut reply = [0u8; MAX_FRAME];
        let o = guest.receive(&req[..n], &mut reply);
        assert_eq!(o.event, Event::EchoAnswered { from: HOST_IP, seq: 3 });
        let m = o.reply_len.unwrap();
        let mut out = [0u8; MAX_FRAME];
        let o = host.receive(&reply[..m], &mut out);
        assert_eq!(o.event, Event::EchoReply { from: GUEST_IP, id: 0x77, seq: 3, data_len: 56 });
        assert_eq!(o.reply_len, None);
        // The reply's IPv4 header is valid and addressed back.
        let (_, ip) = wire::parse_eth(&reply[..m]).unwrap();
        let (h, _) = wire::parse_ipv4(ip).unwrap();
        assert_eq!((h.src, h.dst), (GUEST_IP, HOST_IP));
    }

    #[test]
    fn ignores_and_counts_what_is_not_for_it() {
        let (mut host, mut guest) = pair();
        let mut req = [0u8; MAX_FRAME];
        let mut out = [0u8; MAX_FRAME];
        // Other unicast MAC.
        let n = host.echo_request(MacAddr([2, 2, 2, 2, 2, 2]), GUEST_IP, 1, 1, b"x", &mut req).unwrap();
        assert_eq!(guest.receive(&req[..n], &mut out), Outcome::NOTHING);
        // Other IP.
        let n = host.echo_request(GUEST_MAC, Ipv4Addr([169, 254, 0, 3]), 1, 1, b"x", &mut req).unwrap();
        assert_eq!(guest.receive(&req[..n], &mut out), Outcome::NOTHING);
        assert_eq!(guest.stats.rx_ignored, 2);
        // Corrupted ICMP checksum.
        let n = host.echo_request(GUEST_MAC, GUEST_IP, 1, 1, b"xy", &mut req).unwrap();
        req[14 + 20 + 8] ^= 0x55; // first data byte (the frame is padded)
        assert_eq!(guest.receive(&req[..n], &mut out), Outcome::NOTHING);
        // Truncated frames.
        assert_eq!(guest.receive(&req[..10], &mut out), Outcome::NOTHING);
        assert_eq!(guest.receive(&req[..20], &mut out), Outcome::NOTHING);
        assert_eq!(guest.stats.rx_malformed, 3);
        // Output buffer too small for the reply: no reply, no panic.
        let n = host.echo_request(GUEST_MAC, GUEST_IP, 1, 1, &[0; 100], &mut req).unwrap();
        let mut tiny = [0u8; 40];
        assert_eq!(guest.receive(&req[..n], &mut tiny).reply_len, None);
    }

    #[test]
    fn neighbour_cache_replaces_round_robin() {
        let mut i = Interface::new(GUEST_MAC, GUEST_IP, 16);
        for k in 0..(ARP_ENTRIES as u8 + 2) {
            i.learn(Ipv4Addr([10, 0, 0, k]), MacAddr([2, 0, 0, 0, 0, k]));
        }
        assert_eq!(i.lookup(Ipv4Addr([10, 0, 0, 0])), None);
        assert_eq!(i.lookup(Ipv4Addr([10, 0, 0, 9])), Some(MacAddr([2, 0, 0, 0, 0, 9])));
        i.learn(Ipv4Addr([10, 0, 0, 9]), MacAddr([2, 0, 0, 0, 0, 99]));
        assert_eq!(i.lookup(Ipv4Addr([10, 0, 0, 9])), Some(MacAddr([2, 0, 0, 0, 0, 99])));
        i.learn(Ipv4Addr([10, 0, 0, 50]), MacAddr::BROADCAST);
        assert_eq!(i.lookup(Ipv4Addr([10, 0, 0, 50])), None, "multicast MACs are not learned");
    }
}
