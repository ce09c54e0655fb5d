//! Tamper-evident audit log (hash chain per tenant).
