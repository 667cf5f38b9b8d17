package dev.panvm.tune;

import java.time.Duration;
import java.util.Optional;

/**
 * What a search reports after each step.
 *
 * @param latest   the step just taken
 * @param best     the step with the lowest mean so far (step 0, the default, until something beats it)
 * @param timeLeft time to the budget's deadline, empty when the budget has none
 */
public record Progress(Step latest, Step best, Optional<Duration> timeLeft) {

    public int step() {
        return latest.step();
    }
}
