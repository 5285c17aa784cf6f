//! lottery-demo (to be written).
fn main() {}
