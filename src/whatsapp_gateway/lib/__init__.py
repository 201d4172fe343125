"""Framework-light helpers shared by every app (env parsing, ids, phones, crypto, errors, clock)."""
