package dev.panvm.tune.cli;


import dev.panvm.tune.Budget;
import dev.panvm.tune.FilterResult;
import dev.panvm.tune.Knob;
import dev.panvm.tune.KnobFilter;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.Progress;
import dev.panvm.tune.RandomSearch;
import dev.panvm.tune.Step;
import dev.panvm.tune.StunReward;
import dev.panvm.tune.Tuner;
import dev.panvm.tune.TunerSettings;
import dev.panvm.tune.guest.GuestObjective;
import dev.panvm.tune.guest.GuestWorkload;
import dev.panvm.tune.guest.RepeatsRule;
import dev.panvm.vmm.api.HostKind;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code panvm tune}: tunes ferrite's scheduler knobs for one workload in one long-lived VM, as
 * STUN does (filter the knobs, then tabular Q-learning with STUN's reward, by default
 * {@linkplain TunerSettings.Reference#REBASED rebased} in rounds to the best setting so far;
 * {@code --reward stun} for the paper's exact reward), with random search on the same number of
 * measured steps as the baseline, and writes a report.
 *
 * <p>Phases: a pilot of the default setting chooses the runs per setting ({@link RepeatsRule});
 * the filter measures each knob alone at both ends of its range; Q-learning and random search then
 * share what is left of the budget, minus a reserve for the final comparison: Q-learning runs
 * until half of it is spent (or {@code --steps} steps), random search takes as many steps; at the
 * end the default and both bests are measured afresh, interleaved, with twice the runs. The state
 * is saved every few seconds of steps and at the end: a run stopped at any point resumes from {@code --state}.
 */
@Command(name = "panvm tune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Tunes ferrite's scheduler knobs (sched_*) for one workload, as STUN does: boots one ferrite VM on panvm "
                    + "and keeps it, measures each knob alone at its range's ends and keeps those that move the result by "
                    + "more than 20 %% beyond the noise, then runs tabular Q-learning (raise or lower one kept knob by one "
                    + "grid step; STUN's reward, see --reward) for half of the remaining budget and random search for as "
                    + "many steps, and re-measures the default and both bests afresh with 95 %% confidence intervals.",
            "Writes to --out: report.md, sensitivity.md, learning-curve.png, state.json. Progress goes to stderr. "
                    + "The state file is saved every 5 s of steps and at the end; run the same command with --state FILE to continue."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:the report was written", "1:the run failed (VM, guest, I/O)", "2:bad usage"})
public final class TuneCommand implements Callable<Integer> {
    static final int PILOT_RUNS = 10;
    static final int GRID_STEPS = 11;
    static final Duration SAVE_INTERVAL = Duration.ofSeconds(5);
    private static final Pattern DURATION = Pattern.compile("(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

    @Option(names = "--workload", required = true, paramLabel = "NAME", description = "hackbench, pipe or mixed (fio's I/O jobs beside CPU hogs, on a disk image)")
    String workload;

    @Option(names = "--param", paramLabel = "KEY=VALUE",
            description = "a workload parameter, repeatable (hackbench: groups, loops, pipe_size; pipe: ops, pin; mixed: fio's "
                    + "file, jobs, rw, rwmixread, bs, size, dist, ops, seed, cpu_hogs, cache, cache_pages, readahead, "
                    + "over its defaults file=/data.bin jobs=2 rw=randread dist=zipf:0.9 ops=1000 cpu_hogs=2)")
    List<String> params = new ArrayList<>();

    @Option(names = "--budget", paramLabel = "DURATION",
            description = "wall-clock budget for the whole run, e.g. 20m, 90s, 1h30m (pilot and filter included)")
    String budget;

    @Option(names = "--steps", paramLabel = "N",
            description = "Q-learning steps to take in this invocation (random search takes as many); with --budget, whichever ends first")
    Integer steps;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "seed of both searches (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--reward", paramLabel = "stun|rebased", description = {
        "what STUN's reward (+200 if more than 20 %% better than the reference, -50 if more than 20 %% worse, "
                + "+100 if better than the previous step, else 0) compares against.",
        "rebased (the default): rounds of " + TunerSettings.ROUND_STEPS + " steps, each starting from the best "
                + "setting so far with a fresh Q table and rewarded against that best's result, so the +200 band "
                + "shrinks around the best found, like a trust region.",
        "stun: the default setting's result for the whole run, as in the STUN paper.",
        "rebased is the default because, on a simulated workload with a known optimum and noise (cost 100 at the "
                + "optimum, 161 at the default; 150 steps, 200 seeds), stun's Q-learning ended with a best of true cost "
                + "114.2 +- 14.6 and lost to random search (102.2 +- 1.8): inside the +200 band every step earns the same, "
                + "so it cannot tell the optimum from the band's edge; rebased reached 101.3 +- 1.2 (optimum 100).",
        "A resumed state keeps the reward it was started with."})
    String reward;

    @Option(names = "--state", paramLabel = "FILE",
            description = "state file: resumed if it exists, saved every 5 s of steps (default: OUT/state.json)")
    Path state;

    @Option(names = "--out", paramLabel = "DIR", description = "report directory (default: tune-results/WORKLOAD-STAMP)")
    Path out;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "2", description = "vCPUs of the VM (default ${DEFAULT-VALUE})")
    int cpus;

    @Option(names = "--repeats", paramLabel = "N",
            description = "runs per setting, instead of the pilot's rule (at least 2)")
    Integer repeats;

    @Option(names = "--keep", paramLabel = "KNOB",
            description = "tune this knob even if the filter drops it (repeatable; the report says which were forced)")
    List<String> keep = new ArrayList<>();

    @Option(names = "--kernel", paramLabel = "PATH", description = "ferrite image (default: guest-kernel/target/ferrite of the repository)")
    Path kernel;

    @Option(names = "--disk", paramLabel = "IMAGE", description = "disk image attached read-only (mixed's default: "
            + "images/out/bench-ext2.img of the repository, made by images/build bench-ext2)")
    Path disk;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Parses {@code 20m}, {@code 90s}, {@code 1h30m}; an error for anything else or zero. */
    static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.strip());
        if (text.isBlank() || !m.matches()) {
            throw new IllegalArgumentException("cannot read budget '" + text + "': write e.g. 20m, 90s or 1h30m");
        }
        Duration d = Duration.ZERO;
        if (m.group(1) != null) {
            d = d.plusHours(Long.parseLong(m.group(1)));
        }
        if (m.group(2) != null) {
            d = d.plusMinutes(Long.parseLong(m.group(2)));
        }
        if (m.group(3) != null) {
            d = d.plusSeconds(Long.parseLong(m.group(3)));
        }
        if (d.isZero()) {
            throw new IllegalArgumentException("a budget of " + text + " leaves no time to measure");
        }
        return d;
    }

    /** The checked inputs, before anything is booted. */
    record Plan(GuestWorkload workload, Map<String, String> parameters, Optional<Duration> budget,
                Optional<Integer> steps, Path out, Path state, Optional<TuneState> resumed, Path kernel, String describe,
                TunerSettings.Reference reward, Optional<Path> disk) {
    }

    Plan plan() throws Exception {
        GuestWorkload w = GuestWorkload.of(workload);
        Map<String, String> parameters = w.parseParameters(params);
        if (budget == null && steps == null) {
            throw new IllegalArgumentException("give a budget: --budget DURATION (e.g. 20m) or --steps N");
        }
        Optional<Duration> b = budget == null ? Optional.empty() : Optional.of(parseDuration(budget));
        if (steps != null && steps < 1) {
            throw new IllegalArgumentException("--steps must be at least 1, not " + steps);
        }
        if (cpus < 1 || cpus > 64) {
            throw new IllegalArgumentException("--cpus must be in 1..64, not " + cpus);
        }
        TunerSettings.Reference chosen = parseReward(reward);
        if (repeats != null && (repeats < 2 || repeats > 1000)) {
            throw new IllegalArgumentException("--repeats must be in 2..1000 (one run has no confidence interval), not " + repeats);
        }
        Path dir = out != null ? out : Path.of("tune-results", w.id() + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        Path file = state != null ? state : dir.resolve("state.json");
        String describe = GuestObjective.describe(w, parameters, cpus);
        Optional<TuneState> resumed = Optional.empty();
        if (Files.exists(file)) {
            TuneState s = TuneState.load(file);
            if (!s.workload().equals(describe)) {
                throw new IllegalArgumentException(file + " tunes '" + s.workload() + "', not '" + describe
                        + "'; give another --state file (or the workload, parameters and --cpus it was made with)");
            }
            if (s.q() != null) {
                TunerSettings.Reference saved = s.q().settings().reference();
                if (reward != null && saved != chosen) {
                    throw new IllegalArgumentException(file + " was started with --reward " + saved.option()
                            + ", not " + chosen.option() + "; leave --reward out to continue it, or give another --state file");
                }
                chosen = saved;
            }
            resumed = Optional.of(s);
        }
        for (String name : keep) {
            if (!name.matches("sched_[a-z_]+")) {
                throw new IllegalArgumentException("--keep " + name + ": not a scheduler knob (sched_latency_ns, ...)");
            }
        }
        Path k = kernel != null ? kernel : repositoryRoot().resolve("guest-kernel/target/ferrite");
        if (!Files.isRegularFile(k)) {
            throw new IllegalArgumentException("no ferrite image at " + k + " (build it with scripts/build-ferrite, or give --kernel)");
        }
        Optional<Path> image = Optional.ofNullable(disk);
        if (image.isEmpty() && w.needsDisk()) {
            image = Optional.of(repositoryRoot().resolve("images/out/bench-ext2.img"));
        }
        if (image.isPresent() && !Files.isRegularFile(image.get())) {
            throw new IllegalArgumentException("no disk image at " + image.get()
                    + (disk == null ? " (build it with images/build bench-ext2, or give --disk)" : ""));
        }
        return new Plan(w, parameters, b, Optional.ofNullable(steps), dir, file, resumed, k, describe, chosen, image);
    }

    /** {@code --reward}'s value; rebased when not given. */
    static TunerSettings.Reference parseReward(String text) {
        if (text == null) {
            return TunerSettings.Reference.REBASED;
        }
        for (TunerSettings.Reference r : TunerSettings.Reference.values()) {
            if (r.option().equals(text.strip().toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw new IllegalArgumentException("--reward " + text + ": give stun or rebased");
    }

    private static Path repositoryRoot() {
        String root = System.getProperty("panvm.root", System.getenv().getOrDefault("PANVM_ROOT", "."));
        return Path.of(root).toAbsolutePath().normalize();
    }

    @Override
    public Integer call() throws Exception {
        Plan plan;
        try {
            plan = plan();
        } catch (IllegalArgumentException | java.io.IOException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        return new Run(plan, spec.commandLine().getErr()).run();
    }

    /** One invocation's work, with the state it keeps saving. */
    private final class Run {
        private final Plan plan;
        private final PrintWriter err;
        private final Instant started = Instant.now();
        private final Instant deadline;
        private final RepeatsRule rule = RepeatsRule.DEFAULT;
        private TuneState st;
        private String stopped = "";
        private Instant lastSave = Instant.MIN;

        Run(Plan plan, PrintWriter err) {
            this.plan = plan;
            this.err = err;
            this.deadline = plan.budget().map(started::plus).orElse(Instant.MAX);
        }

        int run() throws Exception {
            Files.createDirectories(plan.out());
            String unit = plan.workload().unit();
            say("booting ferrite (" + plan.describe() + ")" + plan.budget().map(b -> ", budget " + human(b)).orElse(""));
            try (GuestObjective objective = GuestObjective.boot(plan.kernel(), plan.workload(), plan.parameters(), cpus, plan.disk())) {
                List<Knob> knobs = objective.knobs(GRID_STEPS);
                double secondsPerRun;
                if (plan.resumed().isPresent()) {
                    st = plan.resumed().get();
                    if (!st.filter().knobs().equals(knobs)) {
                        throw new IllegalArgumentException(plan.state() + " was made with knobs " + st.filter().knobs()
                                + ", this ferrite reports " + knobs);
                    }
                    say("resuming from " + plan.state() + ": " + st.repeats() + " runs per setting, " + st.qSteps()
                            + " Q-learning and " + st.randomSteps() + " random-search steps taken");
                    objective.setRepeats(st.repeats());
                    secondsPerRun = timeOneRun(objective, knobs);
                } else {
                    say("pilot: " + PILOT_RUNS + " runs of the default setting");
                    objective.setRepeats(PILOT_RUNS);
                    Instant t0 = Instant.now();
                    Measurement pilot = objective.measure(defaults(knobs));
                    secondsPerRun = Duration.between(t0, Instant.now()).toNanos() / 1e9 / PILOT_RUNS;
                    int n = repeats != null ? repeats : rule.repeats(pilot);
                    say(String.format(Locale.ROOT, "pilot: mean %.4g %s, cv %.1f %% -> %d runs per setting%s",
                            pilot.mean(), unit, 100 * pilot.standardDeviation() / pilot.mean(), n,
                            repeats != null ? " (--repeats)" : ""));
                    objective.setRepeats(n);
                    say("filter: each of " + knobs.size() + " knobs at both ends (" + (1 + 2 * knobs.size()) + " settings x " + n + " runs)");
                    FilterResult filter = forceKept(KnobFilter.stun().filter(knobs, objective));
                    st = new TuneState(TuneState.FORMAT, plan.describe(), seed, pilot, n, filter, null, List.of(), 0, List.copyOf(keep));
                    save();
                }
                TuneReport.writeSensitivity(plan.out(), st, unit);
                err.print(st.filter().table());
                err.flush();
                Optional<TuneReport.Final> fin = Optional.empty();
                if (st.filter().kept().isEmpty()) {
                    say("no knob was kept by the filter: nothing to tune (see report.md)");
                    stopped = "no knob kept";
                } else {
                    fin = search(objective, secondsPerRun);
                }
                String report = TuneReport.write(plan.out(), st, unit, rule, fin, HostKind.detect().description(), stopped);
                save();
                if (!plan.state().toAbsolutePath().normalize().equals(plan.out().resolve("state.json").toAbsolutePath().normalize())) {
                    st.save(plan.out().resolve("state.json"));
                }
                PrintWriter out = spec.commandLine().getOut();
                out.println(report);
                out.flush();
                say("wrote " + plan.out().resolve("report.md") + ", learning-curve.png, sensitivity.md, state.json; state in " + plan.state());
            }
            return 0;
        }

        /** The filter's result with the {@code --keep} knobs kept whatever their effect. */
        private FilterResult forceKept(FilterResult filter) {
            List<String> names = filter.knobs().stream().map(Knob::name).toList();
            for (String name : keep) {
                if (!names.contains(name)) {
                    throw new IllegalArgumentException("--keep " + name + ": ferrite has no such knob (it has " + names + ")");
                }
            }
            if (keep.isEmpty()) {
                return filter;
            }
            say("kept by --keep whatever the filter says: " + keep);
            List<dev.panvm.tune.Sensitivity> rows = filter.rows().stream()
                    .map(r -> keep.contains(r.knob().name()) && !r.kept()
                            ? new dev.panvm.tune.Sensitivity(r.knob(), r.atMin(), r.atDefault(), r.atMax(), r.effect(), true) : r)
                    .toList();
            return new FilterResult(filter.knobs(), filter.atDefault(), rows);
        }

        private Optional<TuneReport.Final> search(GuestObjective objective, double secondsPerRun) throws Exception {
            FilterResult filter = st.filter();
            int finalRounds = 2 * st.repeats();
            // the final comparison: 3 settings x finalRounds runs, plus a margin for the sysctl round trips
            Duration reserve = Duration.ofMillis((long) (1000 * secondsPerRun * 3 * finalRounds * 1.25) + 2000);
            Instant searchEnd = deadline.equals(Instant.MAX) ? Instant.MAX : deadline.minus(reserve);
            Instant qEnd = searchEnd.equals(Instant.MAX) ? Instant.MAX
                    : Instant.now().plus(Duration.between(Instant.now(), searchEnd).dividedBy(2));
            int stepCap = plan.steps().orElse(Integer.MAX_VALUE);

            Tuner tuner = st.q() == null ? Tuner.start(filter, objective, TunerSettings.of(plan.reward(), seed))
                    : Tuner.resume(st.q(), plan.state().toString(), filter.knobs(), objective);
            RandomSearch random = st.random().isEmpty()
                    ? new RandomSearch(filter, objective, StunReward.STUN, seed)
                    : new RandomSearch(filter, objective, StunReward.STUN, seed, st.random(), st.randomDraws());
            st = with(tuner.state(), random);
            if (qEnd.isAfter(Instant.now())) {
                say("Q-learning (--reward " + plan.reward().option() + ") over " + filter.kept().stream().map(Knob::name).toList()
                        + (stepCap < Integer.MAX_VALUE ? ", " + stepCap + " steps" : "")
                        + (qEnd.equals(Instant.MAX) ? "" : ", until " + human(Duration.between(Instant.now(), qEnd)) + " from now"));
                tuner.run(new Budget(stepCap, qEnd), InstantSource.system(), p -> {
                    progress("q-learning", p, objective);
                    st = with(tuner.state(), random);
                    saveQuietly();
                });
            } else {
                stopped = "the budget was spent before Q-learning could start";
            }
            int owed = st.qSteps() - st.randomSteps();
            if (owed > 0 && searchEnd.isAfter(Instant.now())) {
                say("random search: " + owed + " steps (as many as Q-learning took)");
                random.run(new Budget(owed, searchEnd), InstantSource.system(), p -> {
                    progress("random", p, objective);
                    st = with(tuner.state(), random);
                    saveQuietly();
                });
            }
            if (st.randomSteps() < st.qSteps()) {
                stopped = (stopped.isEmpty() ? "" : stopped + "; ") + "the budget ended random search after "
                        + st.randomSteps() + " of " + st.qSteps() + " steps";
            }
            save(); // the searches' last steps, before the final comparison
            BestSetting bestQ = BestSetting.of(st.q().history());
            BestSetting bestR = BestSetting.of(st.random());
            say("final comparison: default, best by Q-learning (" + TuneReport.words(bestQ.settings()) + "), best by random search ("
                    + TuneReport.words(bestR.settings()) + "), interleaved, " + finalRounds + " runs each");
            List<Double> d = new ArrayList<>();
            List<Double> q = new ArrayList<>();
            List<Double> r = new ArrayList<>();
            int kept = objective.repeats();
            objective.setRepeats(1);
            Map<String, Long> defaults = defaults(filter.knobs());
            for (int i = 0; i < finalRounds; i++) {
                d.add(objective.measure(defaults).samples().getFirst());
                q.add(objective.measure(bestQ.settings()).samples().getFirst());
                r.add(objective.measure(bestR.settings()).samples().getFirst());
            }
            objective.setRepeats(kept);
            return Optional.of(new TuneReport.Final(new Measurement(d), bestQ, new Measurement(q), bestR, new Measurement(r)));
        }

        private TuneState with(dev.panvm.tune.TunerState q, RandomSearch random) {
            return new TuneState(TuneState.FORMAT, st.workload(), st.seed(), st.pilot(), st.repeats(), st.filter(), q,
                    random.result().history(), random.draws(), st.forced());
        }

        private double timeOneRun(GuestObjective objective, List<Knob> knobs) throws Exception {
            int n = objective.repeats();
            objective.setRepeats(1);
            Instant t0 = Instant.now();
            objective.measure(defaults(knobs));
            objective.setRepeats(n);
            return Duration.between(t0, Instant.now()).toNanos() / 1e9;
        }

        private void progress(String search, Progress p, GuestObjective objective) {
            Step s = p.latest();
            String unit = plan.workload().unit();
            err.printf(Locale.ROOT, "[%s] step %d: mean %.4g ± %.2g %s (reward %+.0f), best so far %.4g %s (step %d)%s%n",
                    search, s.step(), s.mean(), s.measurement().halfWidth(), unit, s.reward(), p.best().mean(), unit,
                    p.best().step(), deadline.equals(Instant.MAX) ? ""
                            : ", " + human(Duration.between(Instant.now(), deadline)) + " of the budget left");
            err.flush();
        }

        private void save() throws java.io.IOException {
            st.save(plan.state());
        }

        /**
         * Saves the state after a step, at most every {@link #SAVE_INTERVAL}: the file grows with the
         * history (about 1 MB after 1,500 steps), and rewriting it after every sub-second step would
         * spend the host's cores, which the VM's polling vCPUs need, on JSON. A crash loses at most
         * that interval of steps; the end of the run always saves.
         */
        private void saveQuietly() {
            Instant now = Instant.now();
            if (now.isBefore(lastSave.plus(SAVE_INTERVAL))) {
                return;
            }
            lastSave = now;
            try {
                save();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot save the state to " + plan.state(), e);
            }
        }

        private void say(String line) {
            err.println("panvm tune: " + line);
            err.flush();
        }
    }

    static Map<String, Long> defaults(List<Knob> knobs) {
        Map<String, Long> settings = new java.util.LinkedHashMap<>();
        knobs.forEach(k -> settings.put(k.name(), k.defaultValue()));
        return settings;
    }

    static String human(Duration d) {
        if (d.isNegative()) {
            d = Duration.ZERO;
        }
        long s = d.toSeconds();
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60)
                : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
    }

    /** Runs the command with {@code args}; the exit status. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new TuneCommand());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((e, params) -> {
            PrintWriter w = e.getCommandLine().getErr();
            w.println("panvm tune: " + e.getMessage());
            w.println("try 'panvm tune --help'");
            w.flush();
            return 2;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("panvm tune: " + (e instanceof IllegalArgumentException ? "" : e.getClass().getSimpleName() + ": ")
                    + e.getMessage());
            if (!(e instanceof IllegalArgumentException)) {
                e.printStackTrace(cmd.getErr());
            }
            cmd.getErr().flush();
            return 1;
        });
        return cli.execute(args);
    }

    public static void main(String[] args) {
        System.setProperty("panvm.log.level", System.getProperty("panvm.log.level", "WARN"));
        System.setProperty("java.awt.headless", "true");
        int status = execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
        System.out.flush();
        // vCPU threads that never left KVM_RUN must not keep the process alive
        Runtime.getRuntime().halt(status);
    }
}
