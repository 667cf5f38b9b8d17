package dev.panvm.vmm.devices.legacy;

import dev.panvm.vmm.bus.BusDevice;
import dev.panvm.vmm.devices.InterruptLine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A 16550A UART (National Semiconductor datasheet register set), as COM1 at 0x3f8 / IRQ 4.
 *
 * <p>Transmitted bytes go to an {@link OutputStream} at once, so the transmitter is always empty
 * (LSR.THRE and TEMT stay set). Received bytes come from {@link #receive} (another thread, e.g.
 * one reading stdin) into a 64-byte FIFO. The interrupt line follows IIR: asserted while an
 * enabled interrupt is pending. All register state is guarded by the object's monitor.
 */
public final class Serial16550 implements BusDevice {
    private static final Logger LOG = LoggerFactory.getLogger(Serial16550.class);
    public static final int COM1_PORT = 0x3f8;
    public static final int COM1_IRQ = 4;
    public static final int PORT_COUNT = 8;
    static final int FIFO_SIZE = 64;

    // Register offsets.
    static final int RBR_THR_DLL = 0;
    static final int IER_DLM = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_RX_AVAILABLE = 0x01;
    static final int IER_THR_EMPTY = 0x02;
    static final int IIR_NONE = 0x01;
    static final int IIR_THR_EMPTY = 0x02;
    static final int IIR_RX_AVAILABLE = 0x04;
    static final int IIR_FIFO_ENABLED = 0xc0;
    static final int LCR_DLAB = 0x80;
    static final int MCR_LOOPBACK = 0x10;
    static final int LSR_DATA_READY = 0x01;
    static final int LSR_OVERRUN = 0x02;
    static final int LSR_THR_EMPTY = 0x20;
    static final int LSR_TRANSMITTER_EMPTY = 0x40;
    /** Modem status with no modem: CTS, DSR and DCD asserted. */
    static final int MSR_DEFAULT = 0xb0;

    private final OutputStream out;
    private final InterruptLine irq;
    private final ArrayDeque<Byte> rxFifo = new ArrayDeque<>();

    private int ier;
    private int lcr = 0x03; // 8N1
    private int mcr = 0x08; // OUT2: the PC wiring gates the IRQ through it
    private int scr;
    private int divisor = 12; // 9600 baud
    private boolean fifoEnabled;
    private boolean overrun;
    private boolean thrEmptyPending;
    private boolean irqAsserted;
    private boolean outputBroken;

    public Serial16550(OutputStream out, InterruptLine irq) {
        this.out = out;
        this.irq = irq;
    }

    /** Bytes arriving on the serial line (host input). Dropped, with LSR.OE set, when the FIFO is full. */
    public synchronized void receive(byte[] bytes, int length) {
        for (int i = 0; i < length; i++) {
            if (rxFifo.size() >= FIFO_SIZE) {
                overrun = true;
                break;
            }
            rxFifo.add(bytes[i]);
        }
        updateInterrupt();
    }

    /** Free space in the receive FIFO, so a reader can hold input back instead of losing it. */
    public synchronized int receiveCapacity() {
        return FIFO_SIZE - rxFifo.size();
    }

    @Override
    public synchronized void read(long offset, MemorySegment data) {
        data.fill((byte) 0);
        data.set(JAVA_BYTE, 0, (byte) readRegister((int) offset));
    }

    @Override
    public synchronized void write(long offset, MemorySegment data) {
        writeRegister((int) offset, Byte.toUnsignedInt(data.get(JAVA_BYTE, 0)));
    }

    private boolean dlab() {
        return (lcr & LCR_DLAB) != 0;
    }

    private int readRegister(int reg) {
        return switch (reg) {
            case RBR_THR_DLL -> dlab() ? divisor & 0xff : readRbr();
            case IER_DLM -> dlab() ? (divisor >> 8) & 0xff : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> (mcr & MCR_LOOPBACK) != 0 ? loopbackMsr() : MSR_DEFAULT;
            case SCR -> scr;
            default -> 0xff;
        };
    }

    private void writeRegister(int reg, int value) {
        switch (reg) {
            case RBR_THR_DLL -> {
                if (dlab()) {
                    divisor = (divisor & 0xff00) | value;
                } else {
                    transmit(value);
                }
            }
            case IER_DLM -> {
                if (dlab()) {
                    divisor = (divisor & 0x00ff) | (value << 8);
                } else {
                    boolean thrInterruptNewlyEnabled = (value & IER_THR_EMPTY) != 0 && (ier & IER_THR_EMPTY) == 0;
                    ier = value & 0x0f;
                    // The transmitter is always empty here, so enabling its interrupt raises it at once.
                    if (thrInterruptNewlyEnabled) {
                        thrEmptyPending = true;
                    }
                }
            }
            case IIR_FCR -> {
                fifoEnabled = (value & 0x01) != 0;
                if ((value & 0x02) != 0) {
                    rxFifo.clear();
                }
            }
            case LCR -> lcr = value;
            case MCR -> mcr = value & 0x1f;
            case SCR -> scr = value;
            default -> { } // LSR and MSR are read-only
        }
        updateInterrupt();
    }

    private void transmit(int value) {
        if ((mcr & MCR_LOOPBACK) != 0) {
            if (rxFifo.size() < FIFO_SIZE) {
                rxFifo.add((byte) value);
            } else {
                overrun = true;
            }
        } else {
            writeOut(value);
        }
        thrEmptyPending = (ier & IER_THR_EMPTY) != 0;
    }

    /**
     * Sends a byte to the output. If the output fails (say, a closed pipe), the line goes dead
     * as a disconnected cable would: the guest keeps running, its further output is dropped.
     */
    private void writeOut(int value) {
        if (outputBroken) {
            return;
        }
        try {
            out.write(value);
            out.flush();
        } catch (IOException e) {
            outputBroken = true;
            LOG.warn("serial output failed ({}); dropping further guest output", e.getMessage());
        }
    }

    private int readRbr() {
        Byte b = rxFifo.poll();
        updateInterrupt();
        return b == null ? 0 : Byte.toUnsignedInt(b);
    }

    private int readIir() {
        int fifoBits = fifoEnabled ? IIR_FIFO_ENABLED : 0;
        int id = pendingInterrupt();
        if (id == IIR_THR_EMPTY) {
            // Reading IIR with the THR-empty interrupt pending acknowledges it.
            thrEmptyPending = false;
            updateInterrupt();
        }
        return id | fifoBits;
    }

    private int readLsr() {
        int lsr = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
        if (!rxFifo.isEmpty()) {
            lsr |= LSR_DATA_READY;
        }
        if (overrun) {
            lsr |= LSR_OVERRUN;
            overrun = false;
        }
        return lsr;
    }

    /** In loopback, MCR's DTR, RTS, OUT1, OUT2 appear as MSR's DSR, CTS, RI, DCD. */
    private int loopbackMsr() {
        return ((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4);
    }

    private int pendingInterrupt() {
        if ((ier & IER_RX_AVAILABLE) != 0 && !rxFifo.isEmpty()) {
            return IIR_RX_AVAILABLE;
        }
        if ((ier & IER_THR_EMPTY) != 0 && thrEmptyPending) {
            return IIR_THR_EMPTY;
        }
        return IIR_NONE;
    }

    private void updateInterrupt() {
        boolean assert_ = pendingInterrupt() != IIR_NONE;
        if (assert_ != irqAsserted) {
            irqAsserted = assert_;
            irq.set(assert_);
        }
    }
}
