//! One TLS crypto provider for the whole process: aws-lc-rs, which the AWS
//! SDK already brings. reqwest is built without a provider of its own (so
//! `ring` is never linked) and uses the process default; this installs it.

/// Install aws-lc-rs as rustls' process default, once; later calls (and a
/// provider installed before) are left as they are.
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
