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
 * <p>What the reward compares against is one of the settings ({@link TunerSettings#reference()}):
 * <ul>
 *   <li>{@linkplain TunerSettings.Reference#STUN STUN's} exact reward: the default's result, for
 *       the whole run, in which the Q table keeps learning;</li>
 *   <li>{@linkplain TunerSettings.Reference#REBASED rebased} (the default): the run is cut into
 *       rounds of {@link TunerSettings#roundSteps()} steps. The first is STUN's; each later round
 *       starts from the best setting so far, with a fresh Q table, and rewards its steps against
 *       that best's result: "much better" is then 20 % better than the best found, so the +200 band
 *       shrinks around it like a trust region, and a step is "better than the previous" one when it
 *       beats the result its action started from (at a round's start, the best's).</li>
 * </ul>
 *
 * <p>A known weakness of STUN's exact reward, measured on the simulated two-knob workload of the
 * tests ({@code Bowl}: optimum 100, default 161; the filter's 7 measurements, then 150 steps of 3
 * runs for every search; true cost of the best step, mean ± sd over seeds 0..199): STUN's reward
 * ends at 114.2 ± 14.6, uniform random search over the same grid at 102.2 ± 1.8. The reward for
 * beating the previous step also pays for stepping back after a step that made things worse, so
 * the greedy policy oscillates between neighbours; and inside the band more than 20 % better than
 * the default (about 5 grid steps around the optimum) every step earns +200, so nothing tells the
 * optimum from the band's edge. The rebased reward ends at 101.3 ± 1.2 (pooled choice, as
 * {@code panvm tune} reports it: 100.9 ± 0.9 against random search's 102.7 ± 2.3 and STUN's
 * 114.6 ± 15.2); over seeds 0..39, 101.4 ± 1.3 against 102.1 ± 1.7 and STUN's 112.7 ± 11.8.
 *
 * <p>What that gain is made of, measured the same way: the restarts from the best, not what the
 * table learns in a round. The same rounds with epsilon 1 (a random walk from the best, Q unused)
 * end at 101.4 ± 1.5, within the noise of 101.3; learning does pay where rounds are long (rounds of
 * 50: 105.7 ± 6.9 learned, 108.3 ± 10.7 random walk; STUN's single round: 114.2 against 123.4).
 * Rounds of 4 to 8 steps are equal within the noise (101.2 to 101.3; at 100 steps 101.5 to 102.1,
 * random search 102.6); 6 is the middle of that plateau, leaving a round room for more than one
 * try of each action when more knobs are kept (2 actions per knob). Longer rounds do worse (25:
 * 103.7 ± 5.1 over seeds 0..39; 50: 105.7 ± 6.9), as does keeping the table across rounds (105.6
 * ± 7.1 with rounds of 10, seeds 0..39: its values were earned against another reference).
 * Rejected, over seeds 0..39: "previous" meaning the best result so far (no pay for undoing a bad
 * step), 116.5 ± 17.9 without rounds and no better than STUN's within them; epsilon decaying from
 * 0.3 to 0.05 over the run, 120.4 ± 14.2; gamma 0.5, 110.4 ± 11.2.
 * With a budget of 50 steps random search still wins (103.3 ± 2.7 against 106.9 ± 7.7): walking
 * from the default to within 4 % of the optimum takes a median of 44 steps.
 *
 * <p>With a checkpoint file ({@link #checkpointTo}) the whole state is saved after every step, and
 * {@link #resume} continues it, in this process or another, with the same random choices an
 * uninterrupted run would have made. The round's reference and position are derived from the
 * history, so the state needs nothing more.
 */
public final class Tuner extends Search {
    private final String workload;
    private final TunerSettings settings;
    private final QLearning q;
    private final ReplayableRandom random;
    private int[] current;
    private int action;
    private int[] next;
    /** The current round's reference: the default's result, or the best result before the round. */
    private double reference;
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
        // derived from the history, so that a resumed tuner rewards as an uninterrupted one
        this.reference = history.bestUpTo(roundStart(history.last().step())).mean();
    }

    /**
     * The last step before the round of step {@code taken + 1} (0 for STUN's single round). When
     * {@code taken} ends a round that is {@code taken} itself: the reference is then the best of
     * all steps so far, as {@link #propose()} re-bases to.
     */
    private int roundStart(int taken) {
        int length = settings.roundSteps();
        return length == 0 ? 0 : taken / length * length;
    }

    /** Whether the next step is the first of a round after the first. */
    private boolean roundStarts() {
        int taken = history.last().step();
        return settings.roundSteps() > 0 && taken > 0 && taken % settings.roundSteps() == 0;
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
        if (state.format() != TunerState.FORMAT) {
            throw new IllegalArgumentException(file + ": tuner state format " + state.format() + ", not " + TunerState.FORMAT
                    + " (read it with TunerState.load, which upgrades older formats)");
        }
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
    double reference() {
        return reference;
    }

    /**
     * The result the next step's action starts from: the previous step's, as in STUN, except at the
     * start of a round, where the action starts from the round's best setting, not from the previous step.
     */
    @Override
    double previous() {
        return roundStarts() ? reference : super.previous();
    }

    @Override
    int[] propose() {
        if (roundStarts()) {
            // a new round: from the best setting so far, against its result, with a fresh table
            // (the old one's values were earned against another reference)
            Step best = history.best();
            current = space.pointOf(best.settings());
            reference = best.mean();
            q.load(List.of());
        }
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
