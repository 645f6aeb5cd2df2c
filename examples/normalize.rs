//! Prints the spoken form of each line of standard input (lines starting with "# " are headings): a quick way
//! to try normalization rules. `cargo run --example normalize < lines.txt`
use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let heading = line.starts_with("# ");
        let text = line.trim_start_matches("# ");
        println!("{line}\t{}", narrate::testing::spoken(text, heading));
    }
}
