package dev.panvm.vmm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to {@code panvm run} gives one clear line and a non-zero status, before any KVM work. */
class RunCommandTest {
    @TempDir
    Path dir;

    private record Result(int status, String err) {}

    private static Result run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new Panvm());
        cli.setErr(new PrintWriter(err));
        int status = cli.execute(args);
        return new Result(status, err.toString());
    }

    @Test
    void missingKernelFile() {
        Result r = run("run", "--kernel", "/nonexistent");
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertEquals("panvm: --kernel: /nonexistent: no such file", r.err().strip());
    }

    @Test
    void kernelThatIsNotElf() throws Exception {
        Path p = dir.resolve("notes.txt");
        Files.writeString(p, "x".repeat(100));
        Result r = run("run", "--kernel", p.toString());
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertTrue(r.err().strip().startsWith("panvm: kernel " + p + ": not an ELF file"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void kernelThatIsADirectory() {
        Result r = run("run", "--kernel", dir.toString());
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertTrue(r.err().contains("is a directory"), r.err());
    }

    @Test
    void tooLittleMemory() throws Exception {
        Path p = dir.resolve("k");
        Files.write(p, new byte[] {0x7f, 'E', 'L', 'F'});
        Result r = run("run", "--kernel", p.toString(), "--mem", "1M");
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertTrue(r.err().contains("too small"), r.err());
    }

    @Test
    void unparseableMemorySizeIsAUsageError() {
        Result r = run("run", "--kernel", "/x", "--mem", "lots");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("not a size"), r.err());
    }

    @Test
    void badSerialAndBootValuesAreUsageErrors() {
        assertEquals(2, run("run", "--kernel", "/x", "--serial", "tcp:1").status());
        assertEquals(2, run("run", "--kernel", "/x", "--boot", "bios").status());
    }

    @Test
    void missingDiskImageIsOneClearLine() {
        Result r = run("run", "--kernel", "/nonexistent", "--disk", "/nonexistent.img");
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void badDeviceOptionsAreUsageErrors() {
        Result badDisk = run("run", "--kernel", "/x", "--disk", "/tmp/a.img,rw");
        assertEquals(2, badDisk.status());
        assertTrue(badDisk.err().contains("unknown option 'rw'"), badDisk.err());
        Result badNet = run("run", "--kernel", "/x", "--net", "user");
        assertEquals(2, badNet.status());
        assertTrue(badNet.err().contains("tap:NAME"), badNet.err());
        assertEquals(2, run("run", "--kernel", "/x", "--disk", "null:lots").status());
        Result badThreads = run("run", "--kernel", "/x", "--disk", "/tmp/a.img,io-threads=many");
        assertEquals(2, badThreads.status());
        assertTrue(badThreads.err().contains("'many' is not a number"), badThreads.err());
        Result tooMany = run("run", "--kernel", "/x", "--disk", "/tmp/a.img,io-threads=65");
        assertEquals(125, tooMany.status());
        assertTrue(tooMany.err().contains("must be between 0 and 64, got 65"), tooMany.err());
        Result badConsole = run("run", "--kernel", "/x", "--console", "tcp:1234");
        assertEquals(2, badConsole.status());
        assertTrue(badConsole.err().contains("'unix:PATH' or 'stdio'"), badConsole.err());
    }

    @Test
    void zeroCpusRefused() {
        Result r = run("run", "--kernel", "/nonexistent", "--cpus", "0");
        assertEquals(RunCommand.EXIT_VMM_ERROR, r.status());
        assertEquals("panvm: --cpus: must be between 1 and 64, got 0", r.err().strip());
    }

    @Test
    void helpDocumentsTheExitStatus() {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new Panvm());
        cli.setOut(new PrintWriter(out));
        assertEquals(0, cli.execute("run", "--help"));
        assertTrue(out.toString().contains("Exit status"), out.toString());
        assertTrue(out.toString().contains("--kernel"), out.toString());
        assertTrue(out.toString().contains("--console"), out.toString());
    }
}
