//! Realistic agent text: prose from a large vocabulary, Rust-like source, unified diffs,
//! test runner output and grep results, so compression and search behave as on real data.

use crate::random::SplitMix64;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ser", "ta", "ven", "dor", "qui", "pra", "nel", "sto", "ru", "fen", "gal",
    "bri", "co", "zu", "mar", "tek", "lin", "os", "pe", "har", "vi", "del", "xo", "ar", "un",
    "ist", "ble",
];
const COMMON_WORDS: &[&str] = &[
    "the", "a", "to", "of", "and", "in", "is", "it", "that", "for", "this", "with", "test", "file",
    "function", "error", "should", "now", "fix", "run", "check", "value", "return", "type",
    "update", "instead", "when",
];
const TYPES: &[&str] = &[
    "String",
    "usize",
    "Vec<u8>",
    "Option<Token>",
    "Result<Ast>",
    "&str",
    "HashMap<String, Span>",
    "bool",
];

/// Builds text from a fixed, seed-derived vocabulary.
#[derive(Debug, Clone)]
pub struct TextGenerator {
    words: Vec<String>,
}

impl TextGenerator {
    /// A vocabulary of `size` distinct made-up words (plus common English ones).
    pub fn new(seed: u64, size: usize) -> TextGenerator {
        let mut random = SplitMix64::new(seed ^ 0x7e57);
        let mut words: Vec<String> = COMMON_WORDS.iter().map(|word| word.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < size + COMMON_WORDS.len() {
            let syllables = random.between(2, 4);
            let word: String = (0..syllables).map(|_| *random.pick(SYLLABLES)).collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        TextGenerator { words }
    }

    pub fn word<'a>(&'a self, random: &mut SplitMix64) -> &'a str {
        &self.words[random.skewed(self.words.len() as u64) as usize]
    }

    pub fn identifier(&self, random: &mut SplitMix64) -> String {
        format!("{}_{}", self.word(random), self.word(random))
    }

    /// A sentence of 6–20 words.
    pub fn sentence(&self, random: &mut SplitMix64) -> String {
        let count = random.between(6, 20);
        let mut sentence: Vec<&str> = (0..count).map(|_| self.word(random)).collect();
        if let Some(first) = sentence.first_mut() {
            *first = first.trim();
        }
        format!("{}.", sentence.join(" "))
    }

    pub fn paragraph(&self, random: &mut SplitMix64, sentences: u64) -> String {
        (0..sentences)
            .map(|_| self.sentence(random))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Source code of roughly `bytes` bytes.
    pub fn source_file(&self, random: &mut SplitMix64, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes + 256);
        out.push_str(&format!(
            "//! {}\n\nuse crate::{}::{{{}, {}}};\n\n",
            self.sentence(random),
            self.word(random),
            self.identifier(random),
            self.identifier(random)
        ));
        while out.len() < bytes {
            let name = self.identifier(random);
            let argument = self.identifier(random);
            out.push_str(&format!(
                "/// {}\npub fn {name}({argument}: {}) -> {} {{\n",
                self.sentence(random),
                random.pick(TYPES),
                random.pick(TYPES)
            ));
            for _ in 0..random.between(2, 8) {
                let line = match random.below(4) {
                    0 => format!(
                        "    let {} = {}.{}()?;\n",
                        self.identifier(random),
                        argument,
                        self.word(random)
                    ),
                    1 => format!(
                        "    if {}.is_empty() {{ return Err(Error::{}); }}\n",
                        self.identifier(random),
                        self.word(random)
                    ),
                    2 => format!("    // {}\n", self.sentence(random)),
                    _ => format!(
                        "    {}.push({});\n",
                        self.identifier(random),
                        random.below(1000)
                    ),
                };
                out.push_str(&line);
            }
            out.push_str("}\n\n");
        }
        out
    }

    /// A unified diff against `path`.
    pub fn unified_diff(&self, random: &mut SplitMix64, path: &str) -> String {
        let start = random.between(10, 400);
        let mut out = format!("--- a/{path}\n+++ b/{path}\n@@ -{start},7 +{start},8 @@\n");
        for _ in 0..3 {
            out.push_str(&format!(
                "     let {} = {}();\n",
                self.identifier(random),
                self.identifier(random)
            ));
        }
        out.push_str(&format!(
            "-    if {}.len() > {} {{\n",
            self.identifier(random),
            random.below(64)
        ));
        out.push_str(&format!(
            "+    if {}.len() >= {} {{\n",
            self.identifier(random),
            random.below(64)
        ));
        out.push_str(&format!(
            "+        tracing::debug!(\"{}\");\n",
            self.sentence(random)
        ));
        for _ in 0..3 {
            out.push_str(&format!(
                "     {}.{}();\n",
                self.identifier(random),
                self.word(random)
            ));
        }
        out
    }

    /// `cargo test` output; `failing` names failing tests.
    pub fn test_output(&self, random: &mut SplitMix64, module: &str, failing: u64) -> String {
        let total = random.between(8, 60);
        let mut out = format!(
            "   Compiling {module} v0.1.0\n    Finished `test` profile in {}.{}s\n     Running unittests src/lib.rs\n\nrunning {total} tests\n",
            random.below(60),
            random.below(100)
        );
        for index in 0..total {
            let status = if index < failing { "FAILED" } else { "ok" };
            out.push_str(&format!(
                "test {module}::{}::{} ... {status}\n",
                self.word(random),
                self.identifier(random)
            ));
        }
        if failing > 0 {
            out.push_str(&format!("\nfailures:\n\n---- {module}::{} stdout ----\nthread panicked at src/{}.rs:{}:{}:\nassertion `left == right` failed\n  left: {}\n right: {}\n", self.identifier(random), self.word(random), random.below(900), random.below(80), random.below(100), random.below(100)));
        }
        out.push_str(&format!(
            "\ntest result: {}. {} passed; {failing} failed; 0 ignored\n",
            if failing > 0 { "FAILED" } else { "ok" },
            total - failing.min(total)
        ));
        out
    }

    /// `grep -rn` output.
    pub fn grep_output(&self, random: &mut SplitMix64, pattern: &str) -> String {
        (0..random.between(1, 25))
            .map(|_| {
                format!(
                    "src/{}/{}.rs:{}:    {} {pattern}({});\n",
                    self.word(random),
                    self.word(random),
                    random.below(800),
                    self.identifier(random),
                    self.identifier(random)
                )
            })
            .collect()
    }
}
