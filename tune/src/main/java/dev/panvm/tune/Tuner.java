package dev.panvm.tune;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * STUN's learning phase: tabular Q-learning over the kept knobs. It starts at the defaults' grid
 * point; each step picks an action epsilon-greedily (raise or lower one knob by one grid step),
 * measures the new setting, rewards it with {@link StunReward} and updates Q. The best setting is
 * the step with the lowest mean. The first step's "previous result" is the default's.
 *
 * <p>A known weakness, measured on the simulated two-knob workload of the tests: the reward for
 * beating the previous step also pays for stepping back after a step that made things worse, so
 * the greedy policy tends to oscillate between two neighbours, and uniform random search over
 * the same grid with the same budget finds better settings there.
 *
 * <p>With a checkpoint file ({@link #checkpointTo}) the whole state is saved after every step, and
 * {@link #resume} continues it, in this process or another, with the same random choices an
 * uninterrupted run would have made.
 */
public final class Tuner extends Search {
    private final String workload;
    private final TunerSettings settings;
    private final QLearning q;
    private final ReplayableRandom random;
    private int[] current;
    private int action;
    private int[] next;
    private Optional<Path> checkpoint = Optional.empty();

    private Tuner(SearchSpace space, Objective objective, TunerSettings settings, History history,
                  List<QEntry> table, long draws, int[] current) {
        super(space, objective, settings.reward(), history);
        this.workload = objective.workload();
        this.settings = settings;
        this.q = new QLearning(space.sizes(), settings.alpha(), settings.gamma());
        q.load(table);
        this.random = new ReplayableRandom(settings.seed(), draws);
        this.current = current;
    }

    /** A fresh tuner over the knobs {@code filter} kept, starting from its measurement of the defaults. */
    public static Tuner start(FilterResult filter, Objective objective, TunerSettings settings) {
        SearchSpace space = filter.space();
        return new Tuner(space, objective, settings, History.ofDefaults(filter), List.of(), 0, space.start());
    }

    /**
     * Continues the tuner saved in {@code file}, which keeps being its checkpoint. Fails when the
     * file was written for other knobs or another workload: its Q values would mean nothing here.
     */
    public static Tuner resume(Path file, List<Knob> knobs, Objective objective) throws IOException {
        return resume(TunerState.load(file), file.toString(), knobs, objective).checkpointTo(file);
    }

    /**
     * Continues the tuner whose state is {@code state} (read from {@code file}, named in errors),
     * without a checkpoint file: for a program that saves {@link #state()} inside its own file.
     */
    public static Tuner resume(TunerState state, String file, List<Knob> knobs, Objective objective) {
        if (!state.workload().equals(objective.workload())) {
            throw new IllegalArgumentException(file + " tunes workload '" + state.workload()
                    + "', not '" + objective.workload() + "'; start a new state file for this workload");
        }
        if (!state.knobs().equals(knobs)) {
            throw new IllegalArgumentException(file + " tunes knobs " + state.knobs() + ", not " + knobs
                    + "; start a new state file for these knobs");
        }
        List<Knob> kept = state.kept().stream()
                .map(name -> knobs.stream().filter(k -> k.name().equals(name)).findFirst()
                        .orElseThrow(() -> new IllegalArgumentException(file + ": kept knob " + name + " is not among the knobs")))
                .toList();
        SearchSpace space = new SearchSpace(knobs, kept);
        int[] current = state.current().stream().mapToInt(Integer::intValue).toArray();
        boolean onGrid = current.length == kept.size();
        for (int i = 0; onGrid && i < current.length; i++) {
            onGrid = current[i] >= 0 && current[i] < kept.get(i).steps();
        }
        if (!onGrid) {
            throw new IllegalArgumentException(file + ": current point " + state.current() + " is not on the grid of " + kept);
        }
        return new Tuner(space, objective, state.settings(), new History(state.history()), state.q(), state.draws(), current);
    }

    /** Saves the state to {@code file} after every step from now on. */
    public Tuner checkpointTo(Path file) {
        this.checkpoint = Optional.of(file);
        return this;
    }

    /** The state as {@link TunerState#save} writes it. */
    public TunerState state() {
        List<String> kept = space.kept().stream().map(Knob::name).toList();
        return new TunerState(TunerState.FORMAT, workload, space.knobs(), kept, settings, random.draws(),
                Arrays.stream(current).boxed().toList(), history.result().history(), q.entries());
    }

    @Override
    int[] propose() {
        action = q.choose(current, settings.epsilon(), random);
        next = q.apply(current, action);
        return next;
    }

    @Override
    void learn(double reward) throws IOException {
        q.update(current, action, reward, next);
        current = next;
        // after the update, so that a resumed run never repeats or skips a step
        if (checkpoint.isPresent()) {
            state().save(checkpoint.get());
        }
    }
}
