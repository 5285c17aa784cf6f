//! Append throughput of the file store (placeholder until the monitor lands).
fn main() {}
