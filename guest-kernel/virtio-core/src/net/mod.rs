//! virtio-net (spec 5.1) and just enough networking to answer and send a
//! ping: Ethernet II, ARP (RFC 826), IPv4 (RFC 791, no options sent, no
//! fragments) and ICMP echo (RFC 792).
//!
//! Every frame on the virtqueues is preceded by the 12-byte `virtio_net_hdr`
//! (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
//! num_buffers): with VIRTIO_F_VERSION_1 `num_buffers` is always there. A
//! legacy device (virtio-mmio version 1) without VIRTIO_NET_F_MRG_RXBUF
//! uses the 10-byte header without it ([`header_len`], spec 5.1.6.1), and
//! without VIRTIO_F_ANY_LAYOUT expects the header in a descriptor of its own
//! (spec 5.1.6.6, legacy). Without checksum offload or GSO negotiated the
//! header is all zeros on transmit.

pub mod addr;
mod iface;
pub mod wire;

pub use addr::{Ipv4Addr, MacAddr};
pub use iface::{ARP_ENTRIES, Event, IfStats, Interface, Outcome};

/// Feature bits (spec 5.1.3).
pub mod feature {
    pub const CSUM: u64 = 1 << 0;
    pub const GUEST_CSUM: u64 = 1 << 1;
    pub const MTU: u64 = 1 << 3;
    pub const MAC: u64 = 1 << 5;
    pub const MRG_RXBUF: u64 = 1 << 15;
    pub const STATUS: u64 = 1 << 16;
}

/// Byte offsets in the configuration space (spec 5.1.4).
pub mod config {
    pub const MAC: usize = 0;
    pub const STATUS: usize = 6;
    pub const MTU: usize = 10;
}

/// `status` bit: link up.
pub const STATUS_LINK_UP: u16 = 1;
/// `virtio_net_hdr` length with VIRTIO_F_VERSION_1.
pub const HDR_LEN: usize = 12;
/// `virtio_net_hdr` length of a legacy device without VIRTIO_NET_F_MRG_RXBUF
/// (no `num_buffers`).
pub const LEGACY_HDR_LEN: usize = 10;

/// The `virtio_net_hdr` length for what was negotiated (spec 5.1.6.1):
/// `num_buffers` is there with VIRTIO_F_VERSION_1 or VIRTIO_NET_F_MRG_RXBUF.
pub fn header_len(version_1: bool, mrg_rxbuf: bool) -> usize {
    if version_1 || mrg_rxbuf { HDR_LEN } else { LEGACY_HDR_LEN }
}
/// Largest Ethernet frame without FCS and VLAN tag (1500-byte MTU).
pub const MAX_FRAME: usize = 1514;
/// Receive queue index and transmit queue index (no multiqueue).
pub const RX_QUEUE: u16 = 0;
pub const TX_QUEUE: u16 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_follows_the_negotiated_features() {
        assert_eq!(header_len(true, false), 12, "modern: num_buffers always there");
        assert_eq!(header_len(true, true), 12);
        assert_eq!(header_len(false, true), 12, "legacy with mergeable buffers");
        assert_eq!(header_len(false, false), 10, "legacy: no num_buffers");
        // Both fit in front of a full frame in one 2 KiB receive buffer.
        const { assert!(HDR_LEN + MAX_FRAME <= 2048) };
    }
}
