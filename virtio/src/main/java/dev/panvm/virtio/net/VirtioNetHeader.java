package dev.panvm.virtio.net;

import dev.panvm.virtio.LittleEndian;

import java.lang.foreign.MemorySegment;

/**
 * {@code struct virtio_net_hdr} (virtio 1.2, 5.1.6): 12 bytes in front of every frame, in both
 * directions, with VIRTIO_F_VERSION_1 ({@code num_buffers} included).
 */
public record VirtioNetHeader(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset,
                              int numBuffers) {
    public static final int SIZE = 12;
    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;

    /**
     * What the device puts in front of a received frame: no checksum or GSO information (none
     * negotiated) and, without VIRTIO_NET_F_MRG_RXBUF, {@code num_buffers} = 1 (5.1.6.4).
     */
    public static final VirtioNetHeader RECEIVED = new VirtioNetHeader(0, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0, 1);

    public static VirtioNetHeader read(MemorySegment s) {
        return new VirtioNetHeader(LittleEndian.u8(s, 0), LittleEndian.u8(s, 1), LittleEndian.u16(s, 2),
                LittleEndian.u16(s, 4), LittleEndian.u16(s, 6), LittleEndian.u16(s, 8), LittleEndian.u16(s, 10));
    }

    public void write(MemorySegment s) {
        LittleEndian.putU8(s, 0, flags);
        LittleEndian.putU8(s, 1, gsoType);
        LittleEndian.putU16(s, 2, hdrLen);
        LittleEndian.putU16(s, 4, gsoSize);
        LittleEndian.putU16(s, 6, csumStart);
        LittleEndian.putU16(s, 8, csumOffset);
        LittleEndian.putU16(s, 10, numBuffers);
    }
}
