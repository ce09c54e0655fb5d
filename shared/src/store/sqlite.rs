//! Embedded SQLite backend of the store.
