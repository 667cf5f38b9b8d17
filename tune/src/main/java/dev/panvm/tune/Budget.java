package dev.panvm.tune;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * How long one call of a search runs: a number of steps, a wall-clock deadline, or whichever
 * comes first. A step that starts before the deadline is finished.
 *
 * @param steps    most steps to take in this call
 * @param deadline no step starts at or after this instant ({@link Instant#MAX}: none)
 */
public record Budget(int steps, Instant deadline) {

    public Budget {
        if (steps < 0) {
            throw new IllegalArgumentException("a budget of " + steps + " steps");
        }
    }

    public static Budget steps(int steps) {
        return new Budget(steps, Instant.MAX);
    }

    public static Budget until(Instant deadline) {
        return new Budget(Integer.MAX_VALUE, deadline);
    }

    /** Whether the search stops after {@code taken} steps of this call at {@code now}. */
    boolean exhausted(int taken, Instant now) {
        return taken >= steps || !now.isBefore(deadline);
    }

    /** Time to the deadline (never negative), or empty without one. */
    Optional<Duration> timeLeft(Instant now) {
        if (deadline.equals(Instant.MAX)) {
            return Optional.empty();
        }
        Duration left = Duration.between(now, deadline);
        return Optional.of(left.isNegative() ? Duration.ZERO : left);
    }
}
