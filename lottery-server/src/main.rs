//! The `lottery-server` binary.
fn main() {}
