//! Integration tests: the real `narrate` binary on small essays, its output read back by independent readers.

mod batch;
mod build;
mod check;
mod compose;
mod corpus;
mod epub;
mod errors;
mod espeak;
mod export;
mod faults;
#[cfg(feature = "hibari")]
mod hibari;
mod http;
mod layers;
mod master;
mod openai;
#[cfg(feature = "piper")]
mod piper;
mod readalong;
mod regen;
pub(crate) mod reliability;
mod say;
mod settings;
mod studio;
mod studio_catalogue;
mod support;
#[cfg(feature = "system")]
mod system;
mod text;
mod web_edition;
#[cfg(feature = "piper")]
mod word_timing;
