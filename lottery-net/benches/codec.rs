//! Codec throughput (placeholder until the codec lands).
fn main() {}
