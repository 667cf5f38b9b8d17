package dev.panvm.bench.report;

import java.util.Optional;
import java.util.OptionalDouble;

/**
 * One line of the report: a figure (one benchmark method with one set of parameters) as panvm
 * and its peer scored it, in the figure's unit. Either side may be missing.
 *
 * @param peer the peer's {@code vmm} parameter; empty when the figure has no peer
 */
public record Row(Figure figure, String peer, Optional<Value> panvm, Optional<Value> peerValue) {

    /**
     * One system's figure.
     *
     * @param error the half-width of the mean's 99.9 % confidence interval; NaN when unknown
     * @param guest the same figure by the guest's own clock, where the guest reported one
     */
    public record Value(double mean, double error, OptionalDouble guest) {
    }

    /** panvm's mean over the peer's: below 1, panvm is faster or smaller. */
    public OptionalDouble ratio() {
        return panvm.isPresent() && peerValue.isPresent()
                ? OptionalDouble.of(panvm.get().mean() / peerValue.get().mean()) : OptionalDouble.empty();
    }

    /**
     * The ratio's error, propagated to first order from both sides' relative errors (added in
     * quadrature, as for independent measurements); NaN when either side's error is unknown.
     */
    public OptionalDouble ratioError() {
        if (ratio().isEmpty()) {
            return OptionalDouble.empty();
        }
        Value a = panvm.get();
        Value b = peerValue.get();
        return OptionalDouble.of(ratio().getAsDouble() * Math.hypot(a.error() / a.mean(), b.error() / b.mean()));
    }

    /** The ratio by the guests' own clocks, where both guests reported their time. */
    public OptionalDouble guestRatio() {
        if (panvm.isEmpty() || peerValue.isEmpty() || panvm.get().guest().isEmpty()
                || peerValue.get().guest().isEmpty()) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(panvm.get().guest().getAsDouble() / peerValue.get().guest().getAsDouble());
    }
}
