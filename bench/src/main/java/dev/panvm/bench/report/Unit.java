package dev.panvm.bench.report;

/**
 * A unit a figure is measured or shown in: a time per operation (JMH's {@code ns/op},
 * {@code us/op}, {@code ms/op}, {@code s/op}), a size in MiB, or, for a unit this report does not
 * know (a throughput benchmark's {@code ops/ms}), that unit as it stands, converted to nothing.
 *
 * @param symbol    how a value in this unit is labelled ({@code µs})
 * @param dimension what it measures; values convert only within one dimension
 * @param factor    its size in the dimension's base unit (nanoseconds, MiB)
 */
public record Unit(String symbol, String dimension, double factor) {
    static final String TIME = "time";
    static final Unit NS = new Unit("ns", TIME, 1);
    static final Unit US = new Unit("µs", TIME, 1e3);
    static final Unit MS = new Unit("ms", TIME, 1e6);
    static final Unit S = new Unit("s", TIME, 1e9);
    static final Unit MIB = new Unit("MiB", "size", 1);

    /** The unit of a JMH score: JMH's {@code scoreUnit} for an average or single-shot time, or a metric's own. */
    static Unit ofJmh(String scoreUnit) {
        return switch (scoreUnit) {
            case "ns/op" -> NS;
            case "us/op" -> US;
            case "ms/op" -> MS;
            case "s/op" -> S;
            case "MiB" -> MIB;
            default -> new Unit(scoreUnit, scoreUnit, 1);
        };
    }

    /** {@code value}, measured in {@code from} (of this unit's dimension), in this unit. */
    double convert(double value, Unit from) {
        if (!from.dimension.equals(dimension)) {
            throw new IllegalArgumentException("a value in " + from.symbol + " cannot be shown in " + symbol);
        }
        return value * from.factor / factor;
    }
}
