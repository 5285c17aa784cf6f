//! lottery-loadgen (to be written).
fn main() {}
