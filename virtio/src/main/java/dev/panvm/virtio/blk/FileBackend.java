package dev.panvm.virtio.blk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * A raw disk image in a host file. Data moves with positional {@link FileChannel} reads and
 * writes on {@link MemorySegment#asByteBuffer()} views of guest memory (direct buffers, so the
 * JDK passes the guest pages to pread/pwrite itself; no Java array in between). FLUSH is
 * {@link FileChannel#force force(false)}, i.e. fdatasync. WRITE_ZEROES writes zeroes from one
 * shared zero buffer (Java has no fallocate); DISCARD is not supported, so not offered. A read
 * past the end of an image truncated after it was opened fails (the device answers IOERR).
 */
public final class FileBackend implements BlockBackend {
    /** ByteBuffers are int-indexed; move at most this much per call. */
    private static final long MAX_CHUNK = 1L << 30;
    private static final long ZERO_CHUNK = 1L << 16;

    private final FileChannel channel;
    private final long size;
    private final boolean readOnly;
    private final String deviceId;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment zeroes;

    private FileBackend(FileChannel channel, long size, boolean readOnly, String deviceId) {
        this.channel = channel;
        this.size = size;
        this.readOnly = readOnly;
        this.deviceId = deviceId;
        this.zeroes = arena.allocate(ZERO_CHUNK, 4096);
    }

    /** Opens {@code path} read-write, or read-only (then the device refuses all writes). */
    public static FileBackend open(Path path, boolean readOnly) throws IOException {
        Set<StandardOpenOption> options = readOnly
                ? Set.of(StandardOpenOption.READ)
                : Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel channel = FileChannel.open(path, options);
        try {
            return new FileBackend(channel, channel.size(), readOnly, idFor(path));
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The file name, reduced to printable ASCII and cut to the 20 bytes GET_ID allows. */
    static String idFor(Path path) {
        Path name = path.getFileName();
        String s = name == null ? "panvm-disk" : name.toString();
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            if (sb.length() == 20) {
                break;
            }
            sb.append(b >= 0x20 && b < 0x7f ? (char) b : '_');
        }
        return sb.toString();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String deviceId() {
        return deviceId;
    }

    @Override
    public long read(long offset, MemorySegment dst) throws IOException {
        for (long done = 0; done < dst.byteSize(); ) {
            long n = Math.min(MAX_CHUNK, dst.byteSize() - done);
            ByteBuffer buf = dst.asSlice(done, n).asByteBuffer();
            while (buf.hasRemaining()) {
                int r = channel.read(buf, offset + done + buf.position());
                if (r < 0) {
                    // The image shrank since it was opened (someone truncated it): the device still
                    // has the capacity it announced, but these sectors are gone. Failing the request
                    // (VIRTIO_BLK_S_IOERR) tells the guest; zeroes would hand it wrong data silently.
                    throw new IOException("disk image " + deviceId + " is truncated: no data at byte "
                            + (offset + done + buf.position()) + " of its " + size + " (now " + channel.size() + ")");
                }
            }
            done += n;
        }
        return dst.byteSize();
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        for (long done = 0; done < src.byteSize(); ) {
            long n = Math.min(MAX_CHUNK, src.byteSize() - done);
            ByteBuffer buf = src.asSlice(done, n).asByteBuffer();
            while (buf.hasRemaining()) {
                channel.write(buf, offset + done + buf.position());
            }
            done += n;
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public boolean supportsWriteZeroes() {
        return !readOnly;
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        for (long done = 0; done < length; ) {
            long n = Math.min(ZERO_CHUNK, length - done);
            write(offset + done, zeroes.asSlice(0, n));
            done += n;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            arena.close();
        }
    }
}
