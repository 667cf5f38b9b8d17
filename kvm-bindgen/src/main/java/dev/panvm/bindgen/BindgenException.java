package dev.panvm.bindgen;

/** A construct kvm-bindgen does not understand, or an inconsistency in the headers. Never caught to guess. */
final class BindgenException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BindgenException(String message) {
        super(message);
    }

    BindgenException(String message, Throwable cause) {
        super(message, cause);
    }
}
