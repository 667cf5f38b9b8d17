//! Network workloads on the first virtio-net device (`dev=N` picks another),
//! with the interface configured from the parameters: `ip=ADDR[/PREFIX]`
//! (prefix 16 if absent).
//!
//! - `ping ip=... ping=PEER [count=N] [interval_ms=N] [timeout_ms=N]
//!   [size=N]`: resolves PEER with ARP, sends `count` (3) echo requests of
//!   `size` (56) data bytes `interval_ms` (200) apart, each waiting up to
//!   `timeout_ms` (1000) for its reply; prints the round-trip times. ARP and
//!   echo requests from others are answered meanwhile.
//! - `pingd ip=... [duration_ms=N]`: answers ARP and echo requests for
//!   `duration_ms` (10000), then prints what it did.
//!
//! Ranges: `count` 1..=65535, `interval_ms` 0..=60000, `timeout_ms`
//! 1..=60000, `size` 0..=1400, `duration_ms` 0..=3600000.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use virtio_core::net::{Event, Interface, Ipv4Addr, MAX_FRAME};

use super::json::array;
use super::{Params, begin, dev_index, header};
use crate::platform;
use crate::virtio::net::NetDevice;
use crate::virtio::{self, Claimed};

const ECHO_ID: u16 = 0xfe22;

struct Link {
    dev: Claimed<NetDevice>,
    iface: Interface,
    rx: [u8; MAX_FRAME],
    tx: [u8; MAX_FRAME],
}

/// The interface's parameters: `ip=ADDR[/PREFIX]` and `dev`.
struct LinkParams {
    addr: Ipv4Addr,
    prefix: u8,
    dev: usize,
}

impl LinkParams {
    fn read(p: &Params<'_>) -> Result<Self, String> {
        let ip = p.str("ip", "")?;
        let (addr, prefix) =
            Ipv4Addr::parse_cidr(ip).ok_or_else(|| format!("ip={ip:?}: expected ADDR[/PREFIX]"))?;
        Ok(Self {
            addr,
            prefix,
            dev: dev_index(p)?,
        })
    }
}

impl Link {
    fn open(lp: LinkParams) -> Result<Self, String> {
        let dev = virtio::claim::<NetDevice>(lp.dev)?;
        let iface = Interface::new(dev.mac, lp.addr, lp.prefix);
        Ok(Self {
            dev,
            iface,
            rx: [0; MAX_FRAME],
            tx: [0; MAX_FRAME],
        })
    }

    /// Handles every received frame (answering what asks for an answer);
    /// returns the events, in order.
    fn service(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        while let Some(n) = self.dev.recv(&mut self.rx)? {
            let outcome = self.iface.receive(&self.rx[..n], &mut self.tx);
            if let Some(len) = outcome.reply_len {
                self.dev.send(&self.tx[..len])?;
            }
            if outcome.event != Event::None {
                events.push(outcome.event);
            }
        }
        Ok(())
    }

    /// Services the link until `until(event)` is true for some event, or
    /// `deadline` passes; returns the matching event and when it was seen.
    fn wait_for(
        &mut self,
        deadline: u64,
        mut until: impl FnMut(&Event) -> bool,
    ) -> Result<Option<(Event, u64)>, String> {
        let mut events = Vec::new();
        loop {
            self.service(&mut events)?;
            let now = platform::now_ns();
            if let Some(e) = events.drain(..).find(|e| until(e)) {
                return Ok(Some((e, now)));
            }
            if now >= deadline {
                return Ok(None);
            }
            core::hint::spin_loop();
            crate::task::cond_resched();
        }
    }
}

pub fn ping(p: &Params<'_>) -> Result<String, String> {
    let peer_text = p.str("ping", "")?;
    let peer = Ipv4Addr::parse(peer_text)
        .ok_or_else(|| format!("ping={peer_text:?}: expected a peer address"))?;
    // Echo sequence numbers are 16 bits.
    let count = p.u64("count", 3, 1..=u64::from(u16::MAX))?;
    let interval = p.u64("interval_ms", 200, 0..=60_000)? * 1_000_000;
    let timeout = p.u64("timeout_ms", 1000, 1..=60_000)? * 1_000_000;
    let size = p.u64("size", 56, 0..=1400)? as usize;
    let lp = LinkParams::read(p)?;
    begin(p)?;
    let mut link = Link::open(lp)?;
    let start = platform::now_ns();

    // ARP: up to three requests, a timeout each.
    let mut peer_mac = None;
    for _ in 0..3 {
        let n = link
            .iface
            .arp_request(peer, &mut link.tx)
            .ok_or("ARP request does not fit")?;
        link.dev.send(&link.tx[..n])?;
        let deadline = platform::now_ns() + timeout;
        if let Some((Event::ArpReply { mac, .. }, _)) = link.wait_for(
            deadline,
            |e| matches!(e, Event::ArpReply { ip, .. } if *ip == peer),
        )? {
            peer_mac = Some(mac);
            break;
        }
    }
    let arp_ns = platform::now_ns() - start;
    let peer_mac = peer_mac.ok_or_else(|| {
        format!(
            "no ARP reply from {peer} (3 tries, {} ms each)",
            timeout / 1_000_000
        )
    })?;

    let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut rtts_ns: Vec<u64> = Vec::new();
    let pings_start = platform::now_ns();
    for seq in 1..=count as u16 {
        let n = link
            .iface
            .echo_request(peer_mac, peer, ECHO_ID, seq, &data, &mut link.tx)
            .ok_or("echo request does not fit")?;
        let sent = platform::now_ns();
        link.dev.send(&link.tx[..n])?;
        let reply = link.wait_for(sent + timeout, |e| {
            matches!(e, Event::EchoReply { from, id, seq: s, .. } if *from == peer && *id == ECHO_ID && *s == seq)
        })?;
        if let Some((_, at)) = reply {
            rtts_ns.push(at - sent);
        }
        if u64::from(seq) < count {
            // Keep answering others while pacing the requests.
            link.wait_for(sent + interval, |_| false)?;
        }
    }
    let elapsed = platform::now_ns() - pings_start;
    let received = rtts_ns.len() as u64;
    let rtt_us: Vec<String> = rtts_ns
        .iter()
        .map(|&ns| format!("{:.1}", ns as f64 / 1000.0))
        .collect();
    let avg_us = rtts_ns.iter().sum::<u64>() as f64 / received.max(1) as f64 / 1000.0;
    let json = header("ping", count, elapsed)
        .str("ip", &format!("{}/{}", link.iface.ip, link.iface.prefix))
        .str("mac", &format!("{}", link.iface.mac))
        .str("peer", &format!("{peer}"))
        .str("peer_mac", &format!("{peer_mac}"))
        .u64("sent", count)
        .u64("received", received)
        .raw("rtt_us", &array(rtt_us))
        .f64("rtt_avg_us", avg_us)
        .f64(
            "rtt_min_us",
            rtts_ns.iter().min().map_or(0.0, |&n| n as f64 / 1000.0),
        )
        .f64(
            "rtt_max_us",
            rtts_ns.iter().max().map_or(0.0, |&n| n as f64 / 1000.0),
        )
        .u64("arp_ns", arp_ns)
        .str(
            "device",
            &format!("{:#x}", link.dev.transport().window.base),
        )
        .u64("notifications", link.dev.notifications());
    if received == 0 {
        return Err(format!(
            "no echo reply from {peer} ({count} sent): {}",
            json.finish()
        ));
    }
    Ok(json.finish())
}

pub fn pingd(p: &Params<'_>) -> Result<String, String> {
    let duration = p.u64("duration_ms", 10_000, 0..=3_600_000)? * 1_000_000;
    let lp = LinkParams::read(p)?;
    begin(p)?;
    let mut link = Link::open(lp)?;
    let start = platform::now_ns();
    link.wait_for(start + duration, |_| false)?;
    let elapsed = platform::now_ns() - start;
    let s = link.iface.stats;
    let json = header("pingd", s.echo_requests_answered, elapsed)
        .str("ip", &format!("{}/{}", link.iface.ip, link.iface.prefix))
        .str("mac", &format!("{}", link.iface.mac))
        .u64("duration_ms", duration / 1_000_000)
        .u64("echo_requests_answered", s.echo_requests_answered)
        .u64("arp_requests_answered", s.arp_requests_answered)
        .u64("rx_frames", link.dev.stats.rx_frames)
        .u64("tx_frames", link.dev.stats.tx_frames)
        .u64("rx_ignored", s.rx_ignored)
        .u64("rx_malformed", s.rx_malformed)
        .str(
            "device",
            &format!("{:#x}", link.dev.transport().window.base),
        )
        .u64("notifications", link.dev.notifications());
    Ok(json.finish())
}
