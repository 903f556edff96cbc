//! The tokenizer of the index's text fields: words as tantivy's default splits them (runs of
//! letters and digits), except that each Chinese, Japanese or Korean character is a token of
//! its own.
//!
//! CJK text has no spaces, so the default tokenizer makes a whole sentence one token and a
//! word inside it unfindable. With one token per character, a query's CJK word becomes a
//! phrase of consecutive characters, which matches it anywhere in a sentence. Text without
//! CJK characters is split exactly as before, so existing indexes stay valid.

use std::iter::Peekable;
use std::str::CharIndices;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

#[derive(Clone, Debug, Default)]
pub struct CjkAwareTokenizer {
    token: Token,
}

pub struct CjkAwareTokenStream<'a> {
    text: &'a str,
    chars: Peekable<CharIndices<'a>>,
    token: &'a mut Token,
}

/// Han ideographs, kana and Hangul: scripts written without spaces between words.
pub fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF   // CJK Extension A
        | 0x4E00..=0x9FFF   // CJK Unified Ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF // CJK Extensions B and later
    )
}

impl Tokenizer for CjkAwareTokenizer {
    type TokenStream<'a> = CjkAwareTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkAwareTokenStream<'a> {
        self.token.reset();
        CjkAwareTokenStream {
            text,
            chars: text.char_indices().peekable(),
            token: &mut self.token,
        }
    }
}

impl CjkAwareTokenStream<'_> {
    /// Consumes the rest of a word (letters and digits, no CJK) and returns its end offset.
    fn word_end(&mut self) -> usize {
        while let Some(&(offset, character)) = self.chars.peek() {
            if !character.is_alphanumeric() || is_cjk(character) {
                return offset;
            }
            self.chars.next();
        }
        self.text.len()
    }
}

impl TokenStream for CjkAwareTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        while let Some((offset, character)) = self.chars.next() {
            let end = if is_cjk(character) {
                offset + character.len_utf8()
            } else if character.is_alphanumeric() {
                self.word_end()
            } else {
                continue;
            };
            self.token.offset_from = offset;
            self.token.offset_to = end;
            self.token.text.push_str(&self.text[offset..end]);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{SimpleTokenizer, TextAnalyzer};

    use super::*;

    fn tokens(tokenizer: impl Tokenizer, text: &str) -> Vec<(String, usize)> {
        let mut analyzer = TextAnalyzer::from(tokenizer);
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push((stream.token().text.clone(), stream.token().position));
        }
        out
    }

    #[test]
    fn cjk_characters_are_tokens_and_words_stay_words() {
        let found = tokens(
            CjkAwareTokenizer::default(),
            "cargo test: 数据库连接超时 (DB_2)",
        );
        let texts: Vec<&str> = found.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "cargo", "test", "数", "据", "库", "连", "接", "超", "时", "DB", "2"
            ]
        );
        let positions: Vec<usize> = found.iter().map(|(_, position)| *position).collect();
        assert_eq!(positions, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn text_without_cjk_splits_exactly_like_the_default_tokenizer() {
        for text in [
            "thread panicked at src/parse.rs:12:5",
            "naïve café — ok",
            "",
            "  ,, ",
        ] {
            assert_eq!(
                tokens(CjkAwareTokenizer::default(), text),
                tokens(SimpleTokenizer::default(), text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn kana_and_hangul_count_as_cjk() {
        assert!(is_cjk('テ') && is_cjk('の') && is_cjk('한') && is_cjk('漢'));
        assert!(!is_cjk('a') && !is_cjk('é') && !is_cjk('1'));
    }
}
