package dev.panvm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Runs panvm's JMH benchmarks as {@code scripts/bench} asks: every benchmark (or those matching
 * {@code --only REGEX}), full or {@code --quick}, one fork each (one long-lived VM per fork), with
 * {@link SecondaryMetrics} as profiler; prints one line per benchmark with its score and an
 * estimate of the time left, keeps JMH's full output in a log, and writes JMH's JSON.
 *
 * <pre>
 *   BenchMain --out bench/results/STAMP.jmh.json --run bench/results/STAMP.run.json
 *             --log bench/results/STAMP.log [--quick] [--only REGEX]
 * </pre>
 * {@code --run} receives the {@link RunInfo}: host kind, CPU, JDK, QEMU version, commit.
 * Exit status 1 when a benchmark failed (the others' results are written all the same).
 */
public final class BenchMain {
    /** The benchmarks JMH runs in SingleShotTime mode: one measurement per process start. */
    private static final String SINGLE_SHOT = "StartupBenchmark";

    private BenchMain() {
    }

    /** Iterations and their length, for the two kinds of benchmark. */
    private record Plan(String name, int warmups, int iterations, int millis, int singleShotWarmups, int singleShots) {
        static final Plan QUICK = new Plan("quick", 2, 3, 500, 1, 5);
        static final Plan FULL = new Plan("full", 2, 8, 2000, 2, 15);

        String describe() {
            return String.format(java.util.Locale.ROOT, "%s: one fork per benchmark; %d warm-up and %d measured "
                    + "iterations of %.1f s; single-shot figures %d warm-up and %d measured starts", name, warmups,
                    iterations, millis / 1000.0, singleShotWarmups, singleShots);
        }
    }

    public static void main(String[] args) throws Exception {
        Path out = null;
        Path log = null;
        Path run = null;
        String only = ".*";
        Plan plan = Plan.FULL;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--log" -> log = Path.of(args[++i]);
                case "--run" -> run = Path.of(args[++i]);
                case "--only" -> only = args[++i];
                case "--quick" -> plan = Plan.QUICK;
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (out == null || log == null || run == null) {
            usage("--out, --run and --log are required");
        }
        RunInfo.Start start = RunInfo.probe(BenchEnv.root(), plan.describe());
        List<RunResult> results = new ArrayList<>();
        int failures;
        try (PrintStream logStream = new PrintStream(Files.newOutputStream(log), true)) {
            Progress progress = new Progress(System.out, logStream);
            ChainedOptionsBuilder timed = common(only).exclude(SINGLE_SHOT)
                    .warmupIterations(plan.warmups()).warmupTime(TimeValue.milliseconds(plan.millis()))
                    .measurementIterations(plan.iterations()).measurementTime(TimeValue.milliseconds(plan.millis()));
            ChainedOptionsBuilder singleShot = common(only).exclude("^(?!.*" + SINGLE_SHOT + ").*$")
                    .warmupIterations(plan.singleShotWarmups()).measurementIterations(plan.singleShots());
            for (ChainedOptionsBuilder options : List.of(timed, singleShot)) {
                results.addAll(run(options, progress));
            }
            failures = progress.failures();
        }
        ResultFormatFactory.getInstance(ResultFormatType.JSON, out.toString()).writeOut(results);
        start.finish().write(run);
        System.out.printf("%d results written to %s (JMH's full output: %s)%n", results.size(), out, log);
        if (failures > 0) {
            System.out.printf("%d benchmarks failed; see %s%n", failures, log);
            System.exit(1);
        }
    }

    private static ChainedOptionsBuilder common(String only) {
        return new OptionsBuilder().include(only).forks(1).shouldFailOnError(false)
                .addProfiler(SecondaryMetrics.class)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                        "-Dpanvm.root=" + BenchEnv.root());
    }

    private static Collection<RunResult> run(ChainedOptionsBuilder options, Progress progress) throws RunnerException {
        try {
            return new Runner(options.build(), progress).run();
        } catch (NoBenchmarksException e) {
            return List.of(); // --only matched none of this kind
        }
    }

    private static void usage(String problem) {
        System.err.println("BenchMain: " + problem);
        System.err.println("usage: BenchMain --out FILE.json --run FILE.json --log FILE.log [--quick] [--only REGEX]");
        System.exit(2);
    }
}
