package dev.panvm.tune.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.tune.Knob;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.Objective;
import dev.panvm.vmm.MachineConfig;
import dev.panvm.vmm.api.ControlChannel;
import dev.panvm.vmm.api.GuestCommandException;
import dev.panvm.vmm.api.RunningVm;
import dev.panvm.vmm.api.SerialTail;
import dev.panvm.vmm.api.Vmm;
import dev.panvm.vmm.devices.console.ConsoleTarget;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tuner's objective on a real guest: one ferrite VM on panvm, booted once with its control
 * channel ({@code ctl=console}) and kept for the whole tuning run. {@link #measure} sets every
 * knob with {@code sysctl NAME=VALUE} (checking that the guest took the value), then runs the
 * workload {@link #repeats()} times with {@code run} and returns the result field of each run
 * (hackbench: {@code total_ms}; pipe: {@code ns_per_round_trip}; lower is better).
 *
 * <p>{@code sched_min_granularity_ns} may not exceed {@code sched_latency_ns} in ferrite (as in
 * Linux). A setting that asks for more is run with the granularity lowered to the latency (the
 * tuner's grid points then share a measurement's meaning, which the report's settings show), and
 * the two are set in the order the guest accepts.
 */
public final class GuestObjective implements Objective, AutoCloseable {
    /** The VM's memory: ample for hackbench's threads (32 KiB stacks) at the largest groups the tuner runs. */
    public static final long MEMORY = 512L << 20;
    private static final Duration BOOT = Duration.ofSeconds(60);
    private static final Duration COMMAND = Duration.ofMinutes(10);
    private static final String LATENCY = "sched_latency_ns";
    private static final String MIN_GRANULARITY = "sched_min_granularity_ns";
    private static final Pattern RANGE = Pattern.compile("must be in (\\d+)\\.\\.=(\\d+)");

    private final RunningVm vm;
    private final ControlChannel control;
    private final SerialTail serial;
    private final GuestWorkload workload;
    private final Map<String, String> parameters;
    private final int cpus;
    private final Map<String, Long> current = new LinkedHashMap<>();
    private int repeats = RepeatsRule.DEFAULT.min();

    private GuestObjective(RunningVm vm, SerialTail serial, GuestWorkload workload, Map<String, String> parameters, int cpus)
            throws Exception {
        this.vm = vm;
        this.control = vm.control();
        this.serial = serial;
        this.workload = workload;
        this.parameters = Map.copyOf(new LinkedHashMap<>(parameters));
        this.cpus = cpus;
        JsonNode all = send("sysctl").path("sysctl");
        all.properties().forEach(e -> current.put(e.getKey(), e.getValue().asLong()));
    }

    /**
     * Boots ferrite ({@code kernel}) on panvm with {@code cpus} vCPUs and its control channel, and
     * runs the workload once, unmeasured, after a 2 s delay (panvm's start-up work competes with
     * the vCPUs for the host's cores during the first seconds; BOOT.md, {@code delay_ms}). A bad
     * workload parameter fails here, with the guest's message. {@code disk}, when given, is
     * attached read-only (the workloads only read it).
     */
    public static GuestObjective boot(Path kernel, GuestWorkload workload, Map<String, String> parameters, int cpus,
                                      Optional<Path> disk) throws Exception {
        SerialTail serial = new SerialTail();
        MachineConfig.Builder builder = MachineConfig.builder(kernel).cmdline("ctl=console").cpus(cpus).memoryBytes(MEMORY)
                .serialOut(serial).console(new ConsoleTarget.InProcess())
                .prefault(true); // measured runs: no host fault on a first touch
        disk.ifPresent(image -> builder.disk(image, true));
        MachineConfig config = builder.build();
        RunningVm vm = Vmm.PANVM.start(config, BOOT);
        try {
            GuestObjective objective = new GuestObjective(vm, serial, workload, parameters, cpus);
            objective.runOnce("delay_ms=2000");
            return objective;
        } catch (Exception e) {
            vm.close();
            throw e;
        }
    }

    /** Runs per measured setting from now on. */
    public void setRepeats(int repeats) {
        if (repeats < 1) {
            throw new IllegalArgumentException("at least one run per setting, not " + repeats);
        }
        this.repeats = repeats;
    }

    public int repeats() {
        return repeats;
    }

    public GuestWorkload guestWorkload() {
        return workload;
    }

    @Override
    public String workload() {
        return describe(workload, parameters, cpus);
    }

    /** What {@link #workload()} says for these choices, before a VM exists (to check a state file). */
    public static String describe(GuestWorkload workload, Map<String, String> parameters, int cpus) {
        String words = GuestWorkload.words(parameters);
        return workload.id() + (words.isEmpty() ? "" : " " + words) + " on panvm, " + cpus + " vCPUs";
    }

    /** The guest's current tunables (at boot: ferrite's defaults, scaled for the vCPUs as Linux does). */
    public Map<String, Long> tunables() {
        return Map.copyOf(current);
    }

    /**
     * The five scheduler knobs with ferrite's defaults and ranges, read from the guest: the
     * defaults from {@code sysctl}, each range from the guest's refusal of an out-of-range value
     * ("NAME must be in MIN..=MAX"), taken at the defaults (the two coupled ranges, latency and
     * minimum granularity, are each other's bounds there). Then narrowed for a search grid of
     * {@code steps} values: nanosecond knobs on geometric grids from {@code max(min, 10 us)} (a
     * geometric grid cannot start at 0; ferrite's 0 and 10 us are both "no granularity" next to
     * its millisecond slices), {@code sched_nr_migrate} linear from 0 to 256 (ferrite allows up to
     * 2^32 - 1, but no workload the tuner runs has more than a few hundred tasks to move).
     */
    public List<Knob> knobs(int steps) throws Exception {
        List<Knob> knobs = new ArrayList<>();
        for (Map.Entry<String, Long> e : current.entrySet()) {
            String name = e.getKey();
            long[] range = range(name);
            long def = e.getValue();
            if (name.endsWith("_ns")) {
                long min = Math.max(range[0], 10_000);
                knobs.add(Knob.geometric(name, min, range[1], Math.clamp(def, min, range[1]), steps));
            } else {
                long max = Math.min(range[1], 256);
                knobs.add(new Knob(name, range[0], max, Math.clamp(def, range[0], max), steps));
            }
        }
        return knobs;
    }

    private long[] range(String name) throws Exception {
        try {
            send("sysctl " + name + "=0xffffffffffffffff");
        } catch (GuestCommandException refused) {
            Matcher m = RANGE.matcher(refused.getMessage());
            if (m.find()) {
                return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
            }
            throw new IOException("the guest did not say the range of " + name + ": " + refused.getMessage());
        }
        throw new IOException("the guest accepted " + name + "=2^64-1; cannot find its range");
    }

    @Override
    public Measurement measure(Map<String, Long> settings) throws Exception {
        apply(settings);
        List<Double> samples = new ArrayList<>();
        for (int i = 0; i < repeats; i++) {
            samples.add(runOnce(""));
        }
        return new Measurement(samples);
    }

    /** Sets every knob of {@code settings} the guest does not already have. */
    void apply(Map<String, Long> settings) throws Exception {
        Map<String, Long> wanted = new LinkedHashMap<>(settings);
        if (wanted.containsKey(LATENCY) && wanted.containsKey(MIN_GRANULARITY)) {
            wanted.put(MIN_GRANULARITY, Math.min(wanted.get(MIN_GRANULARITY), wanted.get(LATENCY)));
        }
        // a latency below the current granularity is refused: lower the granularity first
        if (wanted.containsKey(LATENCY) && wanted.get(LATENCY) < current.getOrDefault(MIN_GRANULARITY, 0L)) {
            set(MIN_GRANULARITY, wanted.get(MIN_GRANULARITY));
        }
        for (Map.Entry<String, Long> e : wanted.entrySet()) {
            set(e.getKey(), e.getValue());
        }
    }

    private void set(String name, long value) throws Exception {
        if (current.containsKey(name) && current.get(name) == value) {
            return;
        }
        ObjectNode answer = send("sysctl " + name + "=" + value);
        if (!name.equals(answer.path("sysctl").asText()) || answer.path("value").asLong(-1) != value) {
            throw new IOException("sysctl " + name + "=" + value + " answered " + answer);
        }
        current.put(name, value);
    }

    private double runOnce(String extra) throws Exception {
        String words = (GuestWorkload.words(parameters) + " " + extra).strip();
        ObjectNode result;
        try {
            result = control.run(workload.guestName(), words, COMMAND);
        } catch (GuestCommandException e) {
            throw new IllegalArgumentException("ferrite refused 'run " + workload.guestName() + " " + words + "': " + e.getMessage(), e);
        } catch (IOException | TimeoutException e) {
            throw new IOException("run " + workload.guestName() + " " + words + ": " + e.getMessage() + "\nserial console (last lines):\n" + serial, e);
        }
        JsonNode value = result.get(workload.resultField());
        if (value == null || !value.isNumber()) {
            throw new IOException("run " + workload.guestName() + " answered without a number " + workload.resultField() + ": " + result);
        }
        return value.asDouble();
    }

    private ObjectNode send(String command) throws Exception {
        return control.send(command, COMMAND);
    }

    /** Ends the guest ({@code exit 0}) and the VM. */
    @Override
    public void close() {
        try {
            control.exit(0, Duration.ofSeconds(10));
            vm.awaitOutcome(Duration.ofSeconds(10));
        } catch (Exception ignored) {
            // stopping it below is all that is left to do
        } finally {
            vm.close();
        }
    }
}
