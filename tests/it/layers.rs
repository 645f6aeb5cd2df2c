//! The one-way flow of docs/ARCHITECTURE.md, checked on the source: no core module imports one it must not, so
//! the dependency cycle through the core cannot come back. Reads `use crate::…` / `crate::…` paths (and
//! `super::` at the top of a module folder) in every file of each top-level module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and the modules it may use. Leaves first; the edge (settings, cli, commands) last.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("atomic", &[]),
    ("values", &[]),
    ("timeline", &[]),
    ("essay", &["error", "values"]),
    ("audio", &["error", "atomic", "values", "timeline"]),
    ("cache", &["audio", "error", "atomic"]),
    ("plan", &["essay", "cache", "error", "atomic", "values"]),
    ("synth", &["audio", "error", "atomic", "values"]),
    ("manifest", &["audio", "error", "essay"]),
    (
        "edition",
        &["manifest", "plan", "timeline", "audio", "essay"],
    ),
    (
        "export",
        &["edition", "timeline", "audio", "error", "atomic", "values"],
    ),
    ("check", &["manifest", "export", "audio", "synth", "error"]),
    (
        "pipeline",
        &[
            "essay", "plan", "cache", "synth", "audio", "manifest", "edition", "export", "check",
            "timeline", "error", "atomic", "values", "settings",
        ],
    ),
    (
        "serve",
        &[
            "pipeline", "essay", "plan", "settings", "cache", "synth", "audio", "error", "values",
        ],
    ),
    (
        "studio",
        &[
            "serve", "pipeline", "plan", "manifest", "settings", "essay", "synth", "cache",
            "check", "atomic", "error", "edition", "export",
        ],
    ),
    (
        "settings",
        &[
            "audio", "essay", "export", "synth", "error", "values", "atomic",
        ],
    ),
    ("cli", &["settings", "values", "synth", "export"]),
    ("testing", &["audio", "synth", "essay"]),
];

/// The crate modules a file names, outside its unit tests (which sit at the end, after `#[cfg(test)]`, and may
/// borrow another module's fixtures).
fn uses(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let text = text
        .split("#[cfg(test)]\npub(crate) mod tests")
        .next()
        .unwrap_or(text);
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let before = &text[..i];
        // `$crate::` in macros and comments are not imports.
        if before.ends_with('$')
            || before
                .lines()
                .last()
                .is_some_and(|l| l.trim_start().starts_with("//"))
        {
            continue;
        }
        let name: String = text[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn core_modules_only_import_what_the_flow_allows_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, may) in &allowed {
        let mut paths = Vec::new();
        let folder = src.join(module);
        if folder.is_dir() {
            files(&folder, &mut paths);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            paths.push(file);
        }
        assert!(!paths.is_empty(), "src/{module} is listed but missing");
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            for used in uses(&text) {
                if used == *module || !allowed.contains_key(used.as_str()) && used != "commands" {
                    continue;
                }
                graph
                    .entry(module.to_string())
                    .or_default()
                    .insert(used.clone());
                if !may.contains(&used.as_str()) {
                    wrong.push(format!(
                        "{} uses crate::{used}",
                        path.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the flow:\n{}",
        wrong.join("\n")
    );
    // No cycle: a topological order exists.
    let mut done: BTreeSet<String> = BTreeSet::new();
    while done.len() < graph.len() {
        let next = graph
            .iter()
            .find(|(m, deps)| {
                !done.contains(*m)
                    && deps
                        .iter()
                        .all(|d| done.contains(d) || !graph.contains_key(d))
            })
            .map(|(m, _)| m.clone());
        match next {
            Some(m) => {
                done.insert(m);
            }
            None => panic!(
                "a cycle among {:?}",
                graph
                    .keys()
                    .filter(|m| !done.contains(*m))
                    .collect::<Vec<_>>()
            ),
        }
    }
    // Every top-level module is in the table, so a new one has to take its place in the flow.
    for e in std::fs::read_dir(&src).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().replace(".rs", "");
        if !["lib", "main", "commands"].contains(&name.as_str()) {
            assert!(
                allowed.contains_key(name.as_str()),
                "src/{name} is not in the flow table"
            );
        }
    }
}

/// The sibling modules a file of the folder module `folder` names (`super::x`, `crate::folder::x`), outside its
/// unit tests.
fn sibling_uses(text: &str, folder: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = BTreeSet::new();
    for prefix in ["super::".to_string(), format!("crate::{folder}::")] {
        for (i, _) in text.match_indices(&prefix) {
            let line = text[..i].lines().last().unwrap_or("");
            if line.trim_start().starts_with("//") {
                continue;
            }
            let name: String = text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if siblings.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

/// Within every folder (`pipeline/`, `synth/piper/`…), the files that are modules of their own form no cycle
/// either: a new type two of them need goes where the flow puts it, not half in each.
#[test]
fn modules_inside_a_folder_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut folders = vec![src.clone()];
    let mut checked = 0;
    while let Some(dir) = folders.pop() {
        let mut siblings: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                folders.push(p.clone());
                if p.join("mod.rs").is_file() {
                    siblings.insert(stem, p.join("mod.rs"));
                }
            } else if p.extension().is_some_and(|x| x == "rs")
                && !["mod", "lib", "main"].contains(&stem.as_str())
            {
                siblings.insert(stem, p);
            }
        }
        if dir == src {
            continue; // the top level is the flow table's
        }
        let folder = dir
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('/', "::");
        let names: BTreeSet<String> = siblings.keys().cloned().collect();
        let graph: BTreeMap<String, BTreeSet<String>> = siblings
            .iter()
            .map(|(name, path)| {
                let text = std::fs::read_to_string(path).unwrap();
                let mut used = sibling_uses(&text, &folder, &names);
                used.remove(name);
                (name.clone(), used)
            })
            .collect();
        let mut done: BTreeSet<String> = BTreeSet::new();
        while done.len() < graph.len() {
            let next = graph
                .iter()
                .find(|(m, deps)| !done.contains(*m) && deps.iter().all(|d| done.contains(d)))
                .map(|(m, _)| m.clone());
            match next {
                Some(m) => {
                    done.insert(m);
                }
                None => panic!(
                    "a cycle in src/{folder} among {:?}",
                    graph
                        .iter()
                        .filter(|(m, _)| !done.contains(*m))
                        .collect::<Vec<_>>()
                ),
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} folders found");
}

#[test]
fn the_reader_of_imports_sees_paths_not_comments() {
    let text = "use crate::audio::Audio;\n// crate::cli is not used\nlet x = crate::error::Error::Invalid;\n$crate::values\n\
                #[cfg(test)]\nmod tests {\n    use crate::export::tests::fixture;\n}";
    let found: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(found, vec!["audio", "error"]);
}
