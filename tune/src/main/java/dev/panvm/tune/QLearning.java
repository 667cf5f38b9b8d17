package dev.panvm.tune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;

/**
 * STUN's tabular Q-learning. A state is a grid index per kept knob; the {@code 2k} actions raise
 * (even action {@code 2i}) or lower (odd action {@code 2i + 1}) knob {@code i} by one grid step.
 * An action that would leave the grid is never offered. Entries not yet updated are 0.
 */
public final class QLearning {
    private final int[] sizes;
    private final double alpha;
    private final double gamma;
    private final Map<List<Integer>, double[]> table = new HashMap<>();

    /**
     * @param sizes grid size of each kept knob
     * @param alpha learning rate, in (0, 1]
     * @param gamma discount of future reward, in [0, 1)
     */
    public QLearning(int[] sizes, double alpha, double gamma) {
        if (sizes.length == 0) {
            throw new IllegalArgumentException("Q-learning needs at least one knob");
        }
        if (!(alpha > 0 && alpha <= 1) || !(gamma >= 0 && gamma < 1)) {
            throw new IllegalArgumentException("need 0 < alpha <= 1 and 0 <= gamma < 1, not " + alpha + ", " + gamma);
        }
        this.sizes = sizes.clone();
        this.alpha = alpha;
        this.gamma = gamma;
    }

    /** The knob action {@code action} moves. */
    public static int knobOf(int action) {
        return action / 2;
    }

    /** +1 for a raise, -1 for a lower. */
    public static int directionOf(int action) {
        return action % 2 == 0 ? 1 : -1;
    }

    /** The state {@code action} leads to from {@code state}. */
    public int[] apply(int[] state, int action) {
        if (!legal(state, action)) {
            throw new IllegalArgumentException("action " + action + " leaves the grid from " + Arrays.toString(state));
        }
        int[] next = state.clone();
        next[knobOf(action)] += directionOf(action);
        return next;
    }

    /** The actions that keep {@code state} on the grid, in increasing order. */
    public int[] legalActions(int[] state) {
        return IntStream.range(0, 2 * sizes.length).filter(a -> legal(state, a)).toArray();
    }

    public double q(int[] state, int action) {
        double[] row = table.get(key(state));
        return row == null ? 0 : row[action];
    }

    /** max over the legal actions a' of Q(state, a'). */
    public double maxQ(int[] state) {
        return Arrays.stream(legalActions(state)).mapToDouble(a -> q(state, a)).max().orElseThrow();
    }

    /** Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a)). */
    public void update(int[] state, int action, double reward, int[] next) {
        if (!Arrays.equals(apply(state, action), next)) {
            throw new IllegalArgumentException("action " + action + " leads from " + Arrays.toString(state)
                    + " to " + Arrays.toString(apply(state, action)) + ", not " + Arrays.toString(next));
        }
        double target = reward + gamma * maxQ(next);
        double[] row = table.computeIfAbsent(key(state), k -> new double[2 * sizes.length]);
        row[action] += alpha * (target - row[action]);
    }

    /**
     * Epsilon-greedy: with probability {@code epsilon} a uniformly random legal action, otherwise
     * a legal action of highest Q, ties broken at random (a fresh state has all zeros, and a fixed
     * tie-break would always push the same knob the same way).
     */
    public int choose(int[] state, double epsilon, RandomGenerator random) {
        int[] legal = legalActions(state);
        if (random.nextDouble() < epsilon) {
            return legal[random.nextInt(legal.length)];
        }
        double best = Arrays.stream(legal).mapToDouble(a -> q(state, a)).max().orElseThrow();
        int[] ties = Arrays.stream(legal).filter(a -> q(state, a) == best).toArray();
        return ties[random.nextInt(ties.length)];
    }

    /** The table's visited rows, for saving. */
    public List<QEntry> entries() {
        List<QEntry> entries = new ArrayList<>();
        table.forEach((state, row) -> entries.add(new QEntry(state, Arrays.stream(row).boxed().toList())));
        // sorted, so that equal tables save as equal files
        entries.sort(QEntry.ORDER);
        return entries;
    }

    /** Replaces the table with saved rows. */
    public void load(List<QEntry> entries) {
        table.clear();
        for (QEntry e : entries) {
            if (e.state().size() != sizes.length || e.values().size() != 2 * sizes.length) {
                throw new IllegalArgumentException("a saved Q row for " + sizes.length + " knobs has state "
                        + e.state() + " and " + e.values().size() + " values");
            }
            table.put(List.copyOf(e.state()), e.values().stream().mapToDouble(Double::doubleValue).toArray());
        }
    }

    private boolean legal(int[] state, int action) {
        int i = knobOf(action);
        if (i < 0 || i >= sizes.length) {
            return false;
        }
        int moved = state[i] + directionOf(action);
        return moved >= 0 && moved < sizes[i];
    }

    private static List<Integer> key(int[] state) {
        return Arrays.stream(state).boxed().toList();
    }
}
