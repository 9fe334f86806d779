//! Placeholder; replaced by the loader benchmark.
fn main() {}
