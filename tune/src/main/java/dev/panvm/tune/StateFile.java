package dev.panvm.tune;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The tuner's state files: JSON, replaced atomically so a crash leaves the old file or the new one, never half of one. */
public final class StateFile {
    private StateFile() {
    }

    /** Writes {@code value} with {@code json} to a temporary file beside {@code file}, then moves it into place. */
    public static void write(ObjectMapper json, Path file, Object value) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            json.writeValue(temp.toFile(), value);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
