package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QLearningTest {
    private static final int RAISE_0 = 0;
    private static final int LOWER_0 = 1;
    private static final int RAISE_1 = 2;
    private static final int LOWER_1 = 3;

    @Test
    void actionsRaiseOrLowerOneKnobByOneStep() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        int[] s = {1, 1};
        assertArrayEquals(new int[] {2, 1}, q.apply(s, RAISE_0));
        assertArrayEquals(new int[] {0, 1}, q.apply(s, LOWER_0));
        assertArrayEquals(new int[] {1, 2}, q.apply(s, RAISE_1));
        assertArrayEquals(new int[] {1, 0}, q.apply(s, LOWER_1));
        assertArrayEquals(new int[] {1, 1}, s, "apply leaves its argument alone");
    }

    @Test
    void actionsAtTheGridsEdgeAreNotOffered() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        assertArrayEquals(new int[] {RAISE_0, RAISE_1}, q.legalActions(new int[] {0, 0}));
        assertArrayEquals(new int[] {LOWER_0, LOWER_1}, q.legalActions(new int[] {2, 2}));
        assertArrayEquals(new int[] {RAISE_0, LOWER_0, RAISE_1}, q.legalActions(new int[] {1, 0}));
        assertThrows(IllegalArgumentException.class, () -> q.apply(new int[] {2, 0}, RAISE_0));
        assertThrows(IllegalArgumentException.class, () -> q.apply(new int[] {2, 0}, LOWER_1));
    }

    @Test
    void updateByHand() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        // Q((2,1), lower 1) = 0 + 0.5 * (10 + 0.9 * 0 - 0) = 5
        q.update(new int[] {2, 1}, LOWER_1, 10, new int[] {2, 0});
        assertEquals(5, q.q(new int[] {2, 1}, LOWER_1), 1e-12);
        assertEquals(5, q.maxQ(new int[] {2, 1}), 1e-12);
        // Q((1,1), raise 0) = 0 + 0.5 * (100 + 0.9 * 5 - 0) = 52.25
        q.update(new int[] {1, 1}, RAISE_0, 100, new int[] {2, 1});
        assertEquals(52.25, q.q(new int[] {1, 1}, RAISE_0), 1e-12);
        // again: 52.25 + 0.5 * (100 + 4.5 - 52.25) = 78.375
        q.update(new int[] {1, 1}, RAISE_0, 100, new int[] {2, 1});
        assertEquals(78.375, q.q(new int[] {1, 1}, RAISE_0), 1e-12);
        // a negative reward into a state whose best is 0 (all unvisited): 0.5 * (-50) = -25
        q.update(new int[] {0, 0}, RAISE_1, -50, new int[] {0, 1});
        assertEquals(-25, q.q(new int[] {0, 0}, RAISE_1), 1e-12);
        assertEquals(0, q.maxQ(new int[] {0, 0}), 1e-12, "the unvisited raise of knob 0 is still 0");
    }

    @Test
    void maxOverNextStatesLegalActionsOnly() {
        QLearning q = new QLearning(new int[] {2}, 1, 0.5);
        // from (1) only "lower" is legal; make it negative, so max Q(1) is that negative value
        q.update(new int[] {1}, LOWER_0, -8, new int[] {0});
        assertEquals(-8, q.maxQ(new int[] {1}), 1e-12);
        q.update(new int[] {0}, RAISE_0, 0, new int[] {1});
        assertEquals(-4, q.q(new int[] {0}, RAISE_0), 1e-12);
    }

    @Test
    void updateRejectsANextStateTheActionDoesNotReach() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        assertThrows(IllegalArgumentException.class, () -> q.update(new int[] {1, 1}, RAISE_0, 1, new int[] {1, 2}));
    }

    @Test
    void greedyTakesTheBestLegalAction() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        int[] s = {1, 1};
        q.update(s, LOWER_1, 100, new int[] {1, 0});
        q.update(s, RAISE_0, 10, new int[] {2, 1});
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 100; i++) {
            assertEquals(LOWER_1, q.choose(s, 0, random));
        }
    }

    @Test
    void greedyBreaksTiesAtRandomAndExplorationStaysOnTheGrid() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        SplittableRandom random = new SplittableRandom(7);
        Set<Integer> tied = new HashSet<>();
        Set<Integer> explored = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            tied.add(q.choose(new int[] {0, 0}, 0, random));
            explored.add(q.choose(new int[] {2, 2}, 1, random));
        }
        assertEquals(Set.of(RAISE_0, RAISE_1), tied);
        assertEquals(Set.of(LOWER_0, LOWER_1), explored);
    }

    @Test
    void savedRowsLoadIntoAnEqualTable() {
        QLearning q = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        q.update(new int[] {2, 1}, LOWER_1, 10, new int[] {2, 0});
        q.update(new int[] {1, 1}, RAISE_0, 100, new int[] {2, 1});
        List<QEntry> saved = q.entries();
        assertEquals(List.of(List.of(1, 1), List.of(2, 1)), saved.stream().map(QEntry::state).toList(), "sorted by state");
        QLearning loaded = new QLearning(new int[] {3, 3}, 0.5, 0.9);
        loaded.load(saved);
        assertEquals(saved, loaded.entries());
        assertEquals(52.25, loaded.q(new int[] {1, 1}, RAISE_0), 1e-12);
        assertTrue(new QLearning(new int[] {3}, 0.5, 0.9).entries().isEmpty());
        assertThrows(IllegalArgumentException.class, () -> new QLearning(new int[] {3}, 0.5, 0.9).load(saved));
    }
}
