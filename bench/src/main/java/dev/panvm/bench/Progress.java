package dev.panvm.bench;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.format.OutputFormat;

import java.io.PrintStream;
import java.util.Collection;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * JMH's output, condensed: one line per benchmark on the console (what runs, how far the run
 * is and how long the rest should take, then its score), everything JMH says in the log. The
 * estimate extrapolates the time spent so far over JMH's own measure of progress, so it counts
 * what JMH's estimate leaves out (forks starting, VMs booting).
 */
final class Progress implements OutputFormat {
    private static final Pattern RUN_PROGRESS = Pattern.compile("# Run progress: ([0-9.]+)% complete");

    private final PrintStream console;
    private final PrintStream log;
    private long runStart;
    private double done;
    private int started;
    private boolean open;
    private int failures;

    Progress(PrintStream console, PrintStream log) {
        this.console = console;
        this.log = log;
    }

    int failures() {
        return failures;
    }

    @Override
    public void startRun() {
        runStart = System.nanoTime();
        done = 0;
    }

    @Override
    public void startBenchmark(BenchmarkParams params) {
        closeOpen();
        started++;
        open = true;
        String eta = "";
        if (done > 0) {
            double elapsed = (System.nanoTime() - runStart) / 1e9;
            eta = String.format(Locale.ROOT, ", about %s left", minutes(elapsed * (1 - done) / done));
        }
        String what = shortName(params.getBenchmark()) + " " + params.getParamsKeys().stream()
                .map(k -> k + "=" + params.getParam(k)).toList();
        console.printf(Locale.ROOT, "[%3d] %s (%.0f%% of this run done%s) ... ", started, what, done * 100, eta);
        console.flush();
        log.println("# Benchmark " + started + ": " + what);
    }

    @Override
    public void endBenchmark(BenchmarkResult result) {
        if (!open) {
            return;
        }
        open = false;
        if (result == null) {
            failed();
            return;
        }
        Result<?> primary = result.getPrimaryResult();
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%.4g ± %.2g %s",
                primary.getScore(), primary.getScoreError(), primary.getScoreUnit()));
        result.getSecondaryResults().forEach((name, r) -> line.append(String.format(Locale.ROOT, "; %s %.4g %s",
                name, r.getScore(), r.getScoreUnit())));
        console.println(line);
    }

    private void closeOpen() {
        if (open) {
            open = false;
            failed();
        }
    }

    private void failed() {
        failures++;
        console.println("FAILED (see the log)");
    }

    @Override
    public void endRun(Collection<RunResult> results) {
        closeOpen();
    }

    @Override
    public void iteration(BenchmarkParams benchParams, IterationParams params, int iteration) {
    }

    @Override
    public void iterationResult(BenchmarkParams benchParams, IterationParams params, int iteration, IterationResult data) {
        log.println("  iteration " + iteration + ": " + data.getPrimaryResult());
    }

    @Override
    public void print(String s) {
        log.print(s);
    }

    @Override
    public void println(String s) {
        Matcher m = RUN_PROGRESS.matcher(s);
        if (m.find()) {
            done = Double.parseDouble(m.group(1)) / 100;
        }
        log.println(s);
    }

    @Override
    public void verbosePrintln(String s) {
        log.println(s);
    }

    @Override
    public void write(int b) {
        log.write(b);
    }

    @Override
    public void write(byte[] b) {
        log.write(b, 0, b.length);
    }

    @Override
    public void flush() {
        console.flush();
        log.flush();
    }

    @Override
    public void close() {
        flush();
    }

    private static String shortName(String benchmark) {
        return benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
    }

    private static String minutes(double seconds) {
        return seconds < 90 ? Math.round(seconds) + " s" : Math.round(seconds / 60) + " min";
    }
}
