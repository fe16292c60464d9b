//! The README's code for frontend teams is the code the client suite runs: each
//! block after a `<!-- snippet: path -->` line is that file, byte for byte, and
//! every file in `tests/clients/snippets/` is shown. Also: the minimum Rust version
//! the README names is `Cargo.toml`'s.

use std::path::Path;

const MARKER: &str = "<!-- snippet: ";
const SNIPPETS: &str = "tests/clients/snippets";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

/// Each marker's path and the content of the fenced block right after it.
fn marked_blocks(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find(MARKER) {
        let (path, after) = rest[at + MARKER.len()..]
            .split_once(" -->\n")
            .unwrap_or_else(|| panic!("a snippet marker ends with ` -->` and a line break: {}", &rest[at..]));
        let fence = after.strip_prefix("```").unwrap_or_else(|| panic!("{path}: no code block right after the marker"));
        let (_language, body) = fence.split_once('\n').unwrap_or_else(|| panic!("{path}: an empty code block"));
        let end = body.find("\n```\n").unwrap_or_else(|| panic!("{path}: the code block is not closed"));
        blocks.push((path.to_owned(), body[..=end].to_owned()));
        rest = &body[end..];
    }
    blocks
}

#[test]
fn the_readmes_client_snippets_are_the_files_the_client_suite_runs() {
    let readme = read("README.md");
    let blocks = marked_blocks(&readme);
    for (path, block) in &blocks {
        assert!(path.starts_with(SNIPPETS), "{path}: snippets live in {SNIPPETS}");
        assert_eq!(block, &read(path), "the README's block for {path} differs from the file: copy the file into it");
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNIPPETS);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| format!("{SNIPPETS}/{}", entry.unwrap().file_name().to_string_lossy()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no snippets in {SNIPPETS}");
    for file in files {
        assert!(
            blocks.iter().any(|(path, _)| *path == file),
            "{file} is run by the client suite but not in the README"
        );
    }
}

#[test]
fn the_readme_names_cargo_tomls_minimum_rust_version() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let version = manifest["package"]["rust-version"].as_str().unwrap();
    assert!(
        read("README.md").contains(&format!("Rust {version} or later")),
        "the README should say Rust {version} or later"
    );
}
