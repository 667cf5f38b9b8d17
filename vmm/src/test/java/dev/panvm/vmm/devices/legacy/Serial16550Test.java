package dev.panvm.vmm.devices.legacy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Serial16550Test {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final List<Boolean> irqEdges = new ArrayList<>();
    Serial16550 uart;
    boolean irq;

    @BeforeEach
    void create() {
        uart = new Serial16550(out, level -> {
            irq = level;
            irqEdges.add(level);
        });
    }

    int in(int reg) {
        MemorySegment d = Arena.ofAuto().allocate(1);
        uart.read(reg, d);
        return Byte.toUnsignedInt(d.get(JAVA_BYTE, 0));
    }

    void outb(int reg, int value) {
        MemorySegment d = Arena.ofAuto().allocate(1);
        d.set(JAVA_BYTE, 0, (byte) value);
        uart.write(reg, d);
    }

    @Test
    void transmittedBytesReachTheOutput() {
        for (byte b : "hi\n".getBytes()) {
            outb(Serial16550.RBR_THR_DLL, b);
        }
        assertEquals("hi\n", out.toString());
    }

    @Test
    void transmitterAlwaysReadyAndNoDataInitially() {
        int lsr = in(Serial16550.LSR);
        assertEquals(Serial16550.LSR_THR_EMPTY | Serial16550.LSR_TRANSMITTER_EMPTY, lsr);
        assertEquals(Serial16550.IIR_NONE, in(Serial16550.IIR_FCR));
        assertFalse(irq);
    }

    @Test
    void divisorLatchIsSeparateFromDataAndIer() {
        outb(Serial16550.LCR, 0x83); // DLAB on, 8N1
        outb(Serial16550.RBR_THR_DLL, 0x01);
        outb(Serial16550.IER_DLM, 0x00);
        assertEquals(0x01, in(Serial16550.RBR_THR_DLL));
        assertEquals(0x00, in(Serial16550.IER_DLM));
        outb(Serial16550.LCR, 0x03);
        assertEquals("", out.toString(), "divisor writes must not transmit");
        assertEquals(0, in(Serial16550.IER_DLM));
    }

    @Test
    void receivedBytesAreReadInOrderWithDataReady() {
        uart.receive("ab".getBytes(), 2);
        assertEquals(1, in(Serial16550.LSR) & Serial16550.LSR_DATA_READY);
        assertEquals('a', in(Serial16550.RBR_THR_DLL));
        assertEquals('b', in(Serial16550.RBR_THR_DLL));
        assertEquals(0, in(Serial16550.LSR) & Serial16550.LSR_DATA_READY);
    }

    @Test
    void receiveInterruptFollowsIerAndFifo() {
        outb(Serial16550.IER_DLM, Serial16550.IER_RX_AVAILABLE);
        assertFalse(irq);
        uart.receive(new byte[] {'x'}, 1);
        assertTrue(irq);
        assertEquals(Serial16550.IIR_RX_AVAILABLE, in(Serial16550.IIR_FCR) & 0x0f);
        in(Serial16550.RBR_THR_DLL);
        assertFalse(irq);
        assertEquals(List.of(true, false), irqEdges);
    }

    @Test
    void thrEmptyInterruptRaisedOnEnableAndAcknowledgedByIirRead() {
        outb(Serial16550.IER_DLM, Serial16550.IER_THR_EMPTY);
        assertTrue(irq);
        assertEquals(Serial16550.IIR_THR_EMPTY, in(Serial16550.IIR_FCR) & 0x0f);
        assertFalse(irq);
        outb(Serial16550.RBR_THR_DLL, 'z');
        assertTrue(irq, "each transmitted byte empties THR again");
    }

    @Test
    void fullFifoSetsOverrunAndDropsTheRest() {
        byte[] many = new byte[Serial16550.FIFO_SIZE + 10];
        uart.receive(many, many.length);
        assertEquals(0, uart.receiveCapacity());
        assertEquals(Serial16550.LSR_OVERRUN, in(Serial16550.LSR) & Serial16550.LSR_OVERRUN);
        assertEquals(0, in(Serial16550.LSR) & Serial16550.LSR_OVERRUN, "reading LSR clears OE");
    }

    @Test
    void loopbackReturnsTransmittedBytesAndModemLines() {
        outb(Serial16550.MCR, Serial16550.MCR_LOOPBACK | 0x0f);
        outb(Serial16550.RBR_THR_DLL, 0x5a);
        assertEquals(0x5a, in(Serial16550.RBR_THR_DLL));
        assertEquals(0xf0, in(Serial16550.MSR));
        assertEquals("", out.toString());
    }

    @Test
    void brokenOutputIsDroppedAndTheGuestGoesOn() {
        Serial16550 dead = new Serial16550(new java.io.OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("Broken pipe");
            }
        }, level -> { });
        MemorySegment d = Arena.ofAuto().allocate(1);
        d.set(JAVA_BYTE, 0, (byte) 'x');
        dead.write(Serial16550.RBR_THR_DLL, d);
        dead.write(Serial16550.RBR_THR_DLL, d);
        dead.read(Serial16550.LSR, d);
        assertEquals(Serial16550.LSR_THR_EMPTY | Serial16550.LSR_TRANSMITTER_EMPTY, Byte.toUnsignedInt(d.get(JAVA_BYTE, 0)));
    }

    @Test
    void scratchRegisterHoldsItsValue() {
        outb(Serial16550.SCR, 0xa5);
        assertEquals(0xa5, in(Serial16550.SCR));
    }
}
