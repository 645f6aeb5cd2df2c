//! RIFF chapter chunks for a finished WAV: `cue ` (one cue point per chapter), `LIST`/`adtl` (a `labl` title
//! and an `ltxt` length per cue) and `LIST`/`INFO` (`INAM` title, `IART` author, `ISFT` software).
//!
//! No maintained crate writes these chunks (hound writes only `fmt ` and `data`), so they are written here and
//! checked against `sndfile-info` in the integration tests.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::timeline::Timeline;

/// Metadata for the `INFO` list.
pub(crate) struct Tags<'a> {
    pub title: &'a str,
    pub author: Option<&'a str>,
}

/// Appends the chapter chunks after the existing chunks of a finished WAV file and fixes the RIFF size.
pub(crate) fn append<F: Read + Write + Seek>(
    file: &mut F,
    timeline: &Timeline,
    tags: &Tags,
) -> io::Result<()> {
    let mut header = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut header)?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a RIFF/WAVE file",
        ));
    }
    let mut end = file.seek(SeekFrom::End(0))?;
    if end % 2 == 1 {
        file.write_all(&[0])?;
        end += 1;
    }
    let mut bytes = cue(timeline);
    bytes.extend(adtl(timeline));
    bytes.extend(info(tags));
    file.write_all(&bytes)?;
    let riff_size = end + bytes.len() as u64 - 8;
    let riff_size = u32::try_from(riff_size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the WAV would exceed 4 GiB"))?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff_size.to_le_bytes())?;
    file.flush()
}

/// One chunk: id, little-endian size, body, and a pad byte when the body length is odd.
fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// Text as a NUL-terminated string (RIFF text is zero-terminated; interior NULs are dropped).
fn zstr(text: &str) -> Vec<u8> {
    let mut v: Vec<u8> = text.bytes().filter(|&b| b != 0).collect();
    v.push(0);
    v
}

/// Cue point ids start at 1, one per chapter in order.
fn cue_id(chapter: usize) -> u32 {
    chapter as u32 + 1
}

fn sample_u32(sample: u64) -> u32 {
    u32::try_from(sample).unwrap_or(u32::MAX)
}

fn cue(timeline: &Timeline) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + 24 * timeline.chapters.len());
    body.extend_from_slice(&(timeline.chapters.len() as u32).to_le_bytes());
    for (i, ch) in timeline.chapters.iter().enumerate() {
        let start = sample_u32(ch.span.start);
        body.extend_from_slice(&cue_id(i).to_le_bytes()); // dwName
        body.extend_from_slice(&start.to_le_bytes()); // dwPosition
        body.extend_from_slice(b"data"); // fccChunk
        body.extend_from_slice(&0u32.to_le_bytes()); // dwChunkStart
        body.extend_from_slice(&0u32.to_le_bytes()); // dwBlockStart
        body.extend_from_slice(&start.to_le_bytes()); // dwSampleOffset
    }
    chunk(b"cue ", &body)
}

/// All `labl` chunks come before the `ltxt` chunks: libsndfile 1.2 stops reading an `adtl` list at its first
/// `ltxt`, so labels placed after one would be invisible to every program built on it.
fn adtl(timeline: &Timeline) -> Vec<u8> {
    let mut body = b"adtl".to_vec();
    for (i, ch) in timeline.chapters.iter().enumerate() {
        let mut labl = cue_id(i).to_le_bytes().to_vec();
        labl.extend(zstr(&ch.title));
        body.extend(chunk(b"labl", &labl));
    }
    for (i, ch) in timeline.chapters.iter().enumerate() {
        let mut ltxt = cue_id(i).to_le_bytes().to_vec();
        ltxt.extend_from_slice(&sample_u32(ch.span.len()).to_le_bytes()); // dwSampleLength
        ltxt.extend_from_slice(b"rgn "); // dwPurpose
        ltxt.extend_from_slice(&[0u8; 8]); // wCountry, wLanguage, wDialect, wCodePage
        body.extend(chunk(b"ltxt", &ltxt));
    }
    chunk(b"LIST", &body)
}

fn info(tags: &Tags) -> Vec<u8> {
    let mut body = b"INFO".to_vec();
    body.extend(chunk(b"INAM", &zstr(tags.title)));
    if let Some(author) = tags.author {
        body.extend(chunk(b"IART", &zstr(author)));
    }
    body.extend(chunk(
        b"ISFT",
        &zstr(concat!("narrate ", env!("CARGO_PKG_VERSION"))),
    ));
    chunk(b"LIST", &body)
}

/// The cue points of a WAV file: (cue id, sample offset), read by walking its RIFF chunk headers (the audio
/// itself is skipped, not read).
pub(crate) fn read_cues(path: &std::path::Path) -> io::Result<Vec<(u32, u32)>> {
    let mut file = io::BufReader::new(std::fs::File::open(path)?);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a RIFF/WAVE file");
    let mut header = [0u8; 12];
    file.read_exact(&mut header)?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(bad());
    }
    let mut chunk = [0u8; 8];
    while file.read_exact(&mut chunk).is_ok() {
        let size = u32::from_le_bytes(chunk[4..8].try_into().expect("4 bytes"));
        if &chunk[0..4] == b"cue " {
            let mut body = vec![0u8; size as usize];
            file.read_exact(&mut body)?;
            let u32_at = |at: usize| {
                body.get(at..at + 4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            };
            let count = u32_at(0).ok_or_else(bad)? as usize;
            return (0..count.min(body.len().saturating_sub(4) / 24))
                .map(|i| {
                    Ok((
                        u32_at(4 + i * 24).ok_or_else(bad)?,
                        u32_at(4 + i * 24 + 20).ok_or_else(bad)?,
                    ))
                })
                .collect();
        }
        file.seek(SeekFrom::Current(i64::from(size) + i64::from(size % 2)))?;
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Chapter, Span};

    fn timeline() -> Timeline {
        let ch = |title: &str, start, end| Chapter {
            title: title.into(),
            span: Span { start, end },
        };
        Timeline {
            sample_rate: 8000,
            total_samples: 4001,
            chapters: vec![ch("Title", 0, 1000), ch("Odd", 1000, 4001)],
            segments: vec![],
            words: vec![],
        }
    }

    /// Walks the chunks of a RIFF file, returning (id, body) pairs; a minimal reader independent of the writer.
    fn chunks(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        let mut at = 12;
        while at + 8 <= bytes.len() {
            let id: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            out.push((id, &bytes[at + 8..at + 8 + size]));
            at += 8 + size + size % 2;
        }
        assert_eq!(at, bytes.len(), "chunks must tile the file exactly");
        out
    }

    #[test]
    fn appended_chunks_are_well_formed_and_hound_still_reads() {
        let mut cursor = io::Cursor::new(Vec::new());
        let audio = crate::audio::Audio {
            sample_rate: 8000,
            samples: vec![1; 4001],
            words: None,
        };
        crate::audio::wav::write_to(&mut cursor, &audio).unwrap();
        append(
            &mut cursor,
            &timeline(),
            &Tags {
                title: "An Essay",
                author: Some("Ann"),
            },
        )
        .unwrap();
        let bytes = cursor.into_inner();
        assert_eq!(bytes.len() % 2, 0);
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff, bytes.len() - 8);
        let ids: Vec<[u8; 4]> = chunks(&bytes).iter().map(|c| c.0).collect();
        assert_eq!(ids, vec![*b"fmt ", *b"data", *b"cue ", *b"LIST", *b"LIST"]);
        let cue = chunks(&bytes)[2].1;
        assert_eq!(u32::from_le_bytes(cue[0..4].try_into().unwrap()), 2);
        assert_eq!(
            u32::from_le_bytes(cue[4 + 24 + 20..4 + 24 + 24].try_into().unwrap()),
            1000
        );
        let adtl = chunks(&bytes)[3].1;
        assert_eq!(&adtl[0..4], b"adtl");
        assert!(adtl.windows(4).any(|w| w == b"Odd\0"));
        let info = chunks(&bytes)[4].1;
        assert!(info.windows(7).any(|w| w == b"An Essa"));
        let reader = hound::WavReader::new(io::Cursor::new(bytes)).unwrap();
        assert_eq!(reader.len(), 4001);
    }
}
