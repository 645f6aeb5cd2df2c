//! Integration tests: the real `narrate` binary on small essays, its output read back by independent readers.

mod build;
mod errors;
mod espeak;
mod regen;
mod support;
