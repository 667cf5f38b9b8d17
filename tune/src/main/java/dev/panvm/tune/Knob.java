package dev.panvm.tune;

/**
 * One scheduler parameter the tuner may set, named as Linux names it ({@code sched_latency_ns}),
 * with its range, its default and the grid of values the tuner moves on.
 *
 * <p>STUN's state is "the current value of each kept parameter"; to keep the Q table finite, each
 * knob takes {@code steps} evenly spaced values from {@code min} to {@code max} (both included),
 * addressed by a grid index {@code 0 .. steps - 1}. The default need not lie on the grid: the
 * tuner starts from the nearest grid value.
 *
 * @param name         the parameter's name, as ferrite's command line and control channel spell it
 * @param min          smallest value the tuner may set
 * @param max          largest value the tuner may set
 * @param defaultValue the value the workload runs with when nobody tunes it
 * @param steps        number of grid values, at least 2 (just {@code min} and {@code max})
 * @param geometric    whether the grid's values grow by an even ratio (then {@code min > 0})
 */
public record Knob(String name, long min, long max, long defaultValue, int steps, boolean geometric) {

    /** A knob with a linear grid. */
    public Knob(String name, long min, long max, long defaultValue, int steps) {
        this(name, min, max, defaultValue, steps, false);
    }

    /** A knob whose grid values grow by an even ratio from {@code min} (positive) to {@code max}. */
    public static Knob geometric(String name, long min, long max, long defaultValue, int steps) {
        return new Knob(name, min, max, defaultValue, steps, true);
    }

    public Knob {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a knob needs a name");
        }
        if (min >= max) {
            throw new IllegalArgumentException(name + ": min " + min + " must be below max " + max);
        }
        if (defaultValue < min || defaultValue > max) {
            throw new IllegalArgumentException(name + ": default " + defaultValue + " outside [" + min + ", " + max + "]");
        }
        if (steps < 2) {
            throw new IllegalArgumentException(name + ": a grid needs at least 2 steps, not " + steps);
        }
        if (geometric && min <= 0) {
            throw new IllegalArgumentException(name + ": a geometric grid needs min > 0, not " + min);
        }
    }

    /** The largest grid index. */
    public int lastIndex() {
        return steps - 1;
    }

    /** The value at grid index {@code index}, rounded to a whole number. */
    public long value(int index) {
        if (index < 0 || index > lastIndex()) {
            throw new IndexOutOfBoundsException(name + ": grid index " + index + " outside [0, " + lastIndex() + "]");
        }
        // the ends exactly, whatever the rounding between them does
        if (index == lastIndex()) {
            return max;
        }
        if (index == 0) {
            return min;
        }
        if (geometric) {
            // min * (max/min)^(index/last), in logarithms to stay exact enough for 1e9-wide ranges
            double log = Math.log(min) + (Math.log(max) - Math.log(min)) * index / lastIndex();
            return Math.clamp(Math.round(Math.exp(log)), min, max);
        }
        return min + Math.round((double) (max - min) * index / lastIndex());
    }

    /** The grid index whose value is nearest to {@code value}; values outside the range go to its ends. */
    public int indexOf(long value) {
        long clamped = Math.clamp(value, min, max);
        if (geometric) {
            double position = (Math.log(clamped) - Math.log(min)) / (Math.log(max) - Math.log(min));
            return (int) Math.round(position * lastIndex());
        }
        return (int) Math.round((double) (clamped - min) * lastIndex() / (max - min));
    }

    /** The grid index nearest to the default: where the tuner starts. */
    public int defaultIndex() {
        return indexOf(defaultValue);
    }
}
