package dev.panvm.virtio.net;

import java.util.HexFormat;

/** A 48-bit Ethernet MAC address, as {@code 52:54:00:12:34:56}. */
public record MacAddress(long value) {
    public MacAddress {
        if ((value & ~0xffff_ffff_ffffL) != 0) {
            throw new IllegalArgumentException("not a 48-bit MAC address: " + Long.toHexString(value));
        }
    }

    /** Parses six colon-separated hex octets. */
    public static MacAddress parse(String text) {
        String[] parts = text.split(":");
        if (parts.length != 6) {
            throw new IllegalArgumentException("MAC address needs six octets: " + text);
        }
        long v = 0;
        for (String p : parts) {
            if (p.length() != 2) {
                throw new IllegalArgumentException("bad MAC address octet '" + p + "' in " + text);
            }
            v = (v << 8) | HexFormat.fromHexDigits(p);
        }
        return new MacAddress(v);
    }

    /** Octet {@code i}, 0 being the first on the wire. */
    public int octet(int i) {
        return (int) (value >>> (8 * (5 - i))) & 0xff;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            if (i > 0) {
                sb.append(':');
            }
            sb.append(String.format("%02x", octet(i)));
        }
        return sb.toString();
    }
}
