package dev.panvm.virtio.rng;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The host's {@code /dev/urandom}, read with a {@link FileChannel} straight into guest memory
 * (a direct-buffer view of the guest's pages; no Java array in between). Never blocks once the
 * host's pool is initialised.
 */
public final class UrandomEntropySource implements EntropySource {
    public static final Path URANDOM = Path.of("/dev/urandom");

    private final FileChannel channel;

    private UrandomEntropySource(FileChannel channel) {
        this.channel = channel;
    }

    public static UrandomEntropySource open() throws IOException {
        return open(URANDOM);
    }

    public static UrandomEntropySource open(Path path) throws IOException {
        return new UrandomEntropySource(FileChannel.open(path, StandardOpenOption.READ));
    }

    @Override
    public synchronized long fill(MemorySegment dst) throws IOException {
        ByteBuffer buf = dst.asByteBuffer();
        while (buf.hasRemaining()) {
            if (channel.read(buf) <= 0) {
                break;
            }
        }
        return buf.position();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
