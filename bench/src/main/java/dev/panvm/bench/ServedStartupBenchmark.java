package dev.panvm.bench;

/**
 * {@link StartupBenchmark} with panvm's runs handed to a {@code panvm serve} that keeps two warm
 * workers (vmm/SERVE.md): {@code scripts/panvm run} while the service runs, so process start is the
 * client's, and the VM is built by a JVM that started before. A worker is ready before each
 * measurement (not timed), as it is for a user who does not start VMs back to back. QEMU is
 * measured again in the same run, as this figure's peer; resident memory is the worker's.
 */
public class ServedStartupBenchmark extends StartupBenchmark {
    @Override
    boolean served() {
        return true;
    }
}
