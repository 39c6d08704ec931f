//! torchtext's `basic_english` tokenizer, rule for rule.
//!
//! torchtext lowercases the line, applies twelve regular-expression replacements in a fixed
//! order and splits on whitespace. Every pattern is a literal (or a whitespace run, which the
//! final split absorbs), so plain string replacement in the same order gives the same tokens
//! without a regex engine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The replacements of torchtext's `basic_english`, in the order it applies them.
///
/// The last rule of torchtext (a run of whitespace becomes one space) is left out: the split
/// on whitespace that follows gives the same tokens with or without it.
const BASIC_ENGLISH_RULES: [(&str, &str); 11] = [
    ("'", " '  "),
    ("\"", ""),
    (".", " . "),
    ("<br />", " "),
    (",", " , "),
    ("(", " ( "),
    (")", " ) "),
    ("!", " ! "),
    ("?", " ? "),
    (";", " "),
    (":", " "),
];

/// The tokenizers the data preparation knows; the tutorial's only one is `basic_english`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// torchtext's `basic_english`.
    #[default]
    BasicEnglish,
}

impl TokenizerKind {
    /// Returns the name the tutorial's `tokenizer_type` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenizerKind::BasicEnglish => "basic_english",
        }
    }

    /// Splits one row of text into tokens.
    pub fn tokenize(self, line: &str) -> Vec<String> {
        match self {
            TokenizerKind::BasicEnglish => basic_english(line),
        }
    }
}

impl fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a tokenizer name the data preparation does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown tokenizer {name:?}: the only tokenizer is basic_english")]
pub struct UnknownTokenizer {
    /// The name that was asked for.
    pub name: String,
}

impl FromStr for TokenizerKind {
    type Err = UnknownTokenizer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic_english" => Ok(TokenizerKind::BasicEnglish),
            other => Err(UnknownTokenizer {
                name: other.to_owned(),
            }),
        }
    }
}

/// Tokenizes a line the way torchtext's `basic_english` does.
///
/// ```
/// use trainer::data::basic_english;
///
/// assert_eq!(basic_english("Don't panic: it's (only) a test."),
///            ["don", "'", "t", "panic", "it", "'", "s", "(", "only", ")", "a", "test", "."]);
/// ```
pub fn basic_english(line: &str) -> Vec<String> {
    let mut text = line.to_lowercase();
    for (pattern, replacement) in BASIC_ENGLISH_RULES {
        if text.contains(pattern) {
            text = text.replace(pattern, replacement);
        }
    }
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(line: &str) -> Vec<String> {
        basic_english(line)
    }

    #[test]
    fn lowercases_and_splits_on_whitespace() {
        assert_eq!(tokens("  The  Game\tBegan "), ["the", "game", "began"]);
    }

    #[test]
    fn keeps_unk_as_one_token() {
        // `<` and `>` are not split off, so WikiText's marker survives lowercasing intact.
        assert_eq!(
            tokens("<unk> Chronicles III"),
            ["<unk>", "chronicles", "iii"]
        );
    }

    #[test]
    fn keeps_wikitext_at_markers_whole() {
        assert_eq!(
            tokens("role @-@ playing 1 @,@ 000"),
            ["role", "@-@", "playing", "1", "@", ",", "@", "000"]
        );
    }

    #[test]
    fn drops_double_quotes_and_splits_single_quotes() {
        assert_eq!(
            tokens("the \" Nameless \" , May 'n"),
            ["the", "nameless", ",", "may", "'", "n"]
        );
        assert_eq!(tokens("game 's"), ["game", "'", "s"]);
    }

    #[test]
    fn drops_colons_and_semicolons() {
        assert_eq!(
            tokens("Japanese : lit ; more:less"),
            ["japanese", "lit", "more", "less"]
        );
    }

    #[test]
    fn splits_off_sentence_punctuation_and_brackets() {
        assert_eq!(
            tokens("Media.Vision (PSP)! Why?"),
            ["media", ".", "vision", "(", "psp", ")", "!", "why", "?"]
        );
    }

    #[test]
    fn replaces_html_line_breaks() {
        assert_eq!(tokens("one<br />two"), ["one", "two"]);
    }

    #[test]
    fn blank_rows_give_no_tokens() {
        assert!(tokens(" ").is_empty());
        assert!(tokens("").is_empty());
    }

    #[test]
    fn a_wikitext_heading_tokenizes_like_torchtext() {
        assert_eq!(
            tokens(" = Valkyria Chronicles III = "),
            ["=", "valkyria", "chronicles", "iii", "="]
        );
    }

    #[test]
    fn tokenizer_names_parse() {
        assert_eq!(
            "basic_english".parse::<TokenizerKind>(),
            Ok(TokenizerKind::BasicEnglish)
        );
        let err = "spacy".parse::<TokenizerKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown tokenizer \"spacy\": the only tokenizer is basic_english"
        );
    }
}
