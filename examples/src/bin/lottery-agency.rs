//! lottery-agency (to be written).
fn main() {}
