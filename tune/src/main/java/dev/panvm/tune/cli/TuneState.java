package dev.panvm.tune.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.panvm.tune.FilterResult;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.StateFile;
import dev.panvm.tune.Step;
import dev.panvm.tune.TunerState;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything {@code panvm tune} needs to continue a run: what it tunes, the pilot and the repeats
 * it chose, the filter's table, the Q-learning tuner's own state ({@link TunerState}) and the
 * random search's history and draws. Saved atomically after every measured step.
 *
 * @param format      version of this layout
 * @param workload    the objective's description (workload, parameters, vCPUs, VMM)
 * @param seed        seed of both searches
 * @param pilot       the pilot runs of the default setting that chose {@code repeats}
 * @param repeats     runs per measured setting
 * @param filter      STUN's filtering: the default's measurement and the sensitivity rows
 * @param q           the Q-learning tuner's state; null when the filter kept no knob
 * @param random      the random search's steps, step 0 (the default) first; empty when no knob was kept
 * @param randomDraws random numbers the random search drew
 * @param forced      knobs kept by {@code --keep} although the filter would have dropped them
 */
public record TuneState(int format, String workload, long seed, Measurement pilot, int repeats, FilterResult filter,
                        TunerState q, List<Step> random, long randomDraws, List<String> forced) {

    public static final int FORMAT = 1;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public TuneState {
        random = random == null ? List.of() : List.copyOf(random);
        forced = forced == null ? List.of() : List.copyOf(forced);
    }

    /** Q-learning steps taken (step 0, the default, not counted). */
    public int qSteps() {
        return q == null ? 0 : q.history().size() - 1;
    }

    /** Random-search steps taken (step 0 not counted). */
    public int randomSteps() {
        return Math.max(0, random.size() - 1);
    }

    /** Writes the state atomically: a crash leaves the old file or the new one. */
    public void save(Path file) throws IOException {
        StateFile.write(JSON, file, this);
    }

    public static TuneState load(Path file) throws IOException {
        TuneState state;
        try {
            JsonNode tree = JSON.readTree(file.toFile());
            if (tree.get("q") instanceof ObjectNode q) {
                // the Q-learning tuner's own state has its own format, which may be older
                TunerState.upgrade(q, file + " (Q-learning state)");
            }
            state = JSON.treeToValue(tree, TuneState.class);
        } catch (IOException e) {
            throw new IOException(file + " is not a panvm tune state file: " + e.getMessage(), e);
        }
        if (state.format() != FORMAT || state.workload() == null || state.filter() == null) {
            throw new IOException(file + " is not a panvm tune state file (format " + state.format() + ", this reads " + FORMAT + ")");
        }
        return state;
    }
}
