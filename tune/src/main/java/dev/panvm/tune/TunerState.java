package dev.panvm.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything a {@link Tuner} needs to continue exactly where it stopped, as one JSON file: what it
 * tunes (workload, knobs), how it learns (settings), where it is (grid point, random draws taken),
 * what it learned (Q table) and what it measured (history; step 0 is the default's measurement).
 *
 * @param format   version of this layout: 2 added {@link TunerSettings#roundSteps()}; a format 1
 *                 file, written before there was a choice, is read as STUN's reward (0)
 * @param workload the objective's {@link Objective#workload()}
 * @param knobs    every knob the workload runs with
 * @param kept     names of the knobs being tuned (the filter's choice), in the state's order
 * @param settings learning parameters
 * @param draws    random numbers drawn so far from {@code settings.seed()}
 * @param current  the current grid point, one index per kept knob
 * @param history  every step so far
 * @param q        the Q table's visited rows
 */
public record TunerState(int format, String workload, List<Knob> knobs, List<String> kept, TunerSettings settings,
                         long draws, List<Integer> current, List<Step> history, List<QEntry> q) {

    /** The layout this code writes; it also reads format 1 ({@link #upgrade}). */
    public static final int FORMAT = 2;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public TunerState {
        knobs = List.copyOf(knobs);
        kept = List.copyOf(kept);
        current = List.copyOf(current);
        history = List.copyOf(history);
        q = List.copyOf(q);
    }

    /** Writes the state to {@code file} atomically: a crash leaves the old file or the new one, never half of one. */
    public void save(Path file) throws IOException {
        StateFile.write(JSON, file, this);
    }

    public static TunerState load(Path file) throws IOException {
        JsonNode tree = JSON.readTree(file.toFile());
        if (!(tree instanceof ObjectNode node)) {
            throw new IOException(file + " is not a tuner state");
        }
        upgrade(node, file.toString());
        return JSON.treeToValue(node, TunerState.class);
    }

    /**
     * Brings a saved state ({@code state}, read from {@code file}, named in errors) to this
     * format, in place. Format 1 had no choice of reward: it tuned with STUN's exact reward, so it
     * is read as {@link TunerSettings#roundSteps()} 0, and a resumed run makes the choices it would
     * have made. Any other format than 1 or {@value #FORMAT} is refused.
     */
    public static void upgrade(ObjectNode state, String file) throws IOException {
        int format = state.path("format").asInt(-1);
        if (format == 1) {
            if (!(state.get("settings") instanceof ObjectNode settings)) {
                throw new IOException(file + ": a tuner state of format 1 without its settings");
            }
            settings.put("roundSteps", 0);
            state.put("format", FORMAT);
        } else if (format != FORMAT) {
            throw new IOException(file + ": tuner state format " + (format < 0 ? "missing" : format)
                    + ", this tuner reads 1 and " + FORMAT + "; start a new state file");
        }
    }
}
