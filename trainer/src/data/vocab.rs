//! The vocabulary: token to index, built from the train rows only.
//!
//! It follows torchtext's `build_vocab_from_iterator(..., specials=["<unk>"])` with the
//! default index set to `<unk>`: `<unk>` is index 0, the other tokens follow by decreasing
//! frequency, ties in lexicographic order, and a token the train rows never saw maps to 0.

use std::collections::HashMap;

/// The token that stands for every word the vocabulary does not hold; always index 0.
pub const UNK: &str = "<unk>";

/// Token to index, with unknown tokens mapped to [`UNK`].
#[derive(Clone, Debug)]
pub struct Vocab {
    index: HashMap<String, i64>,
    tokens: Vec<String>,
}

impl Vocab {
    /// Builds the vocabulary from tokenized rows.
    pub fn build<'a>(rows: impl IntoIterator<Item = &'a [String]>) -> Vocab {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for row in rows {
            for token in row {
                *counts.entry(token.as_str()).or_default() += 1;
            }
        }
        let mut by_frequency: Vec<(&str, usize)> =
            counts.into_iter().filter(|(t, _)| *t != UNK).collect();
        by_frequency.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));

        let tokens: Vec<String> = std::iter::once(UNK)
            .chain(by_frequency.into_iter().map(|(t, _)| t))
            .map(str::to_owned)
            .collect();
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as i64))
            .collect();
        Vocab { index, tokens }
    }

    /// Returns the number of tokens, `<unk>` included (the tutorial's `ntokens`).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Tells whether the vocabulary holds only `<unk>`.
    pub fn is_empty(&self) -> bool {
        self.tokens.len() <= 1
    }

    /// Returns the index of a token, 0 (`<unk>`) when the vocabulary does not hold it.
    pub fn index_of(&self, token: &str) -> i64 {
        self.index.get(token).copied().unwrap_or(0)
    }

    /// Returns the token at an index, if there is one.
    pub fn token(&self, index: usize) -> Option<&str> {
        self.tokens.get(index).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&[&str]]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.iter().map(|t| t.to_string()).collect())
            .collect()
    }

    #[test]
    fn unk_comes_first_then_frequency_then_lexicographic_order() {
        let rows = rows(&[&["b", "a", "c", "a"], &["<unk>", "c", "d"]]);
        let vocab = Vocab::build(rows.iter().map(Vec::as_slice));
        let order: Vec<&str> = (0..vocab.len()).filter_map(|i| vocab.token(i)).collect();
        assert_eq!(order, ["<unk>", "a", "c", "b", "d"]);
    }

    #[test]
    fn unknown_tokens_map_to_zero() {
        let rows = rows(&[&["x", "y"]]);
        let vocab = Vocab::build(rows.iter().map(Vec::as_slice));
        assert_eq!(vocab.index_of("never-seen"), 0);
        assert_eq!(vocab.index_of("<unk>"), 0);
        assert_ne!(vocab.index_of("x"), 0);
        assert_eq!(vocab.len(), 3);
    }
}
