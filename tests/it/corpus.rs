//! Real documents nobody here wrote, gathered at test time from Debian packages (scripts/test installs them; their
//! text is never committed): web pages from several generators, plain-text licences and documents, Markdown
//! READMEs. For each, tests/data/corpus/{html,text,md}-*.toml holds our own hand-checked expectations: the title,
//! the chapters in order with their levels, words that must be spoken and page furniture that must not.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::support::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The Debian package that ships the document (scripts/test installs it).
    package: String,
    /// Where the package puts it; a `.gz` file is unpacked first.
    path: String,
    title: String,
    /// "LEVEL TITLE", in order: every chapter of the plan.
    chapters: Vec<String>,
    /// Phrases that must be in `plan --spoken`.
    spoken: Vec<String>,
    /// Phrases that must not be anywhere in `plan --spoken` (written or spoken).
    not_spoken: Vec<String>,
}

fn expectations() -> Vec<(String, Expect)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".toml")
                && ["html-", "text-", "md-"]
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let expect: Expect =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, expect)
        })
        .collect()
}

/// The document, copied (or unpacked) into the test's folder under a name that gives its format; `None` when
/// its package is not installed (a failure under NARRATE_REQUIRE_TOOLS=1).
fn gather(env: &Env, name: &str, expect: &Expect) -> Option<String> {
    let source = Path::new(&expect.path);
    if !source.exists() {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{name}: {} is missing; scripts/test installs the Debian package {}",
            expect.path,
            expect.package
        );
        eprintln!(
            "skipping {name}: {} is not installed (Debian package {})",
            expect.path, expect.package
        );
        return None;
    }
    let ext = match name.split('-').next() {
        Some("html") => "html",
        Some("md") => "md",
        _ => "txt",
    };
    let file = format!("{name}.{ext}");
    let bytes = if expect.path.ends_with(".gz") {
        let out = std::process::Command::new("gzip")
            .args(["-dc", &expect.path])
            .output()
            .unwrap();
        assert!(out.status.success(), "gzip -dc {}", expect.path);
        out.stdout
    } else {
        std::fs::read(source).unwrap()
    };
    std::fs::write(env.path(&file), bytes).unwrap();
    Some(file)
}

#[test]
fn real_documents_read_as_their_own_headings_show() {
    let all = expectations();
    assert!(
        all.iter().filter(|(n, _)| n.starts_with("html-")).count() >= 8
            && all.iter().filter(|(n, _)| n.starts_with("text-")).count() >= 6
            && all.iter().filter(|(n, _)| n.starts_with("md-")).count() >= 2,
        "the corpus has fewer documents than it should"
    );
    let env = Env::new();
    let mut failures = Vec::new();
    for (name, expect) in &all {
        let Some(file) = gather(&env, name, expect) else {
            continue;
        };
        let plan = env.json(&["plan", &file]);
        let title = plan["title"].as_str().unwrap_or_default();
        if title != expect.title {
            failures.push(format!(
                "{name}: title {title:?}, expected {:?}",
                expect.title
            ));
        }
        let chapters: Vec<String> = plan["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c["level"], c["title"].as_str().unwrap()))
            .collect();
        if chapters != expect.chapters {
            failures.push(format!(
                "{name}: chapters\n  got      {chapters:?}\n  expected {:?}",
                expect.chapters
            ));
        }
        let spoken = env.stdout(&["plan", &file, "--spoken"]);
        for phrase in &expect.spoken {
            if !spoken.contains(phrase.as_str()) {
                failures.push(format!("{name}: {phrase:?} is not spoken"));
            }
        }
        for phrase in &expect.not_spoken {
            if let Some(line) = spoken.lines().find(|l| l.contains(phrase.as_str())) {
                failures.push(format!("{name}: {phrase:?} is read: {}", line.trim()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
