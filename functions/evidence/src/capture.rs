//! Capture: placeholder until notify lands.
