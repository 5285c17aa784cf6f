//! Loom models of the bet monitor (group commit, atomic appends).
