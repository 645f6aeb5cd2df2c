//! Audio I/O and the streaming join of segment audio into one edition.

pub mod encode;
pub mod join;
pub mod master;
pub mod resample;
pub mod wav;
