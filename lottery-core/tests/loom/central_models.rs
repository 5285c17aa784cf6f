//! Loom models of the central (draw once, winners never partial, submit vs finish).
