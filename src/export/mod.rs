//! Writing chapter information out of the timeline: for now, RIFF chapter chunks inside the WAV.

pub mod wav_cue;
