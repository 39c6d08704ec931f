//! Batchified token streams and the tutorial's `get_batch` windows over them.
//!
//! `batchify(data, bsz)` keeps `len / bsz * bsz` tokens and lays them out as `bsz` columns
//! of `len / bsz` consecutive tokens each: column `c` holds tokens `c * rows .. (c + 1) *
//! rows`, so the matrix is `[rows, bsz]`, sequence first. A training step reads `seq_len`
//! consecutive rows as input and the same rows shifted by one as targets.

use serde::Serialize;

/// A token stream laid out as `[rows, columns]` (sequence first), row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batchified {
    data: Vec<i64>,
    rows: usize,
    columns: usize,
}

/// One step of a pass: `seq_len` rows of input starting at `offset`, and their targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The index of the step in its pass, from 0.
    pub index: usize,
    /// The first row of the input (the tutorial's `i`).
    pub offset: usize,
    /// The number of rows of input.
    pub seq_len: usize,
}

impl Batchified {
    /// Lays out `tokens` in `columns` columns, dropping the tokens that do not fill a row.
    ///
    /// `columns` must not be 0; the caller validates batch sizes first. A `columns` of 0
    /// yields an empty matrix rather than a panic.
    pub fn new(tokens: &[i64], columns: usize) -> Batchified {
        if columns == 0 {
            return Batchified {
                data: Vec::new(),
                rows: 0,
                columns: 0,
            };
        }
        let rows = tokens.len() / columns;
        if rows == 0 {
            // Fewer tokens than columns: nothing to lay out (and no loop over a huge
            // `columns`).
            return Batchified {
                data: Vec::new(),
                rows: 0,
                columns,
            };
        }
        let mut data = vec![0; rows * columns];
        for c in 0..columns {
            for r in 0..rows {
                data[r * columns + c] = tokens[c * rows + r];
            }
        }
        Batchified {
            data,
            rows,
            columns,
        }
    }

    /// Returns `[rows, columns]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.columns]
    }

    /// Returns the number of rows (the sequence axis).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Returns the number of columns (the batch size it was laid out with).
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Returns the windows of a pass with sequence length `bptt`: offsets `0, bptt, 2·bptt,
    /// …` while `offset < rows − 1`, each `min(bptt, rows − 1 − offset)` rows long.
    pub fn windows(&self, bptt: usize) -> Vec<Window> {
        if bptt == 0 || self.rows < 2 {
            return Vec::new();
        }
        (0..self.rows - 1)
            .step_by(bptt)
            .enumerate()
            .map(|(index, offset)| Window {
                index,
                offset,
                seq_len: bptt.min(self.rows - 1 - offset),
            })
            .collect()
    }

    /// Returns the input rows of a window, row-major `[seq_len, columns]`.
    pub fn input(&self, window: &Window) -> &[i64] {
        let start = window.offset * self.columns;
        &self.data[start..start + window.seq_len * self.columns]
    }

    /// Returns the target rows of a window (the input shifted by one row), flattened.
    pub fn targets(&self, window: &Window) -> &[i64] {
        let start = (window.offset + 1) * self.columns;
        &self.data[start..start + window.seq_len * self.columns]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_consecutive_tokens_down_the_columns() {
        let tokens: Vec<i64> = (0..11).collect();
        let b = Batchified::new(&tokens, 3);
        assert_eq!(b.shape(), [3, 3]);
        // Columns are 0..3, 3..6, 6..9; tokens 9 and 10 are dropped.
        assert_eq!(
            b.input(&Window {
                index: 0,
                offset: 0,
                seq_len: 3
            }),
            [0, 3, 6, 1, 4, 7, 2, 5, 8]
        );
    }

    #[test]
    fn windows_follow_the_tutorial_get_batch() {
        let tokens: Vec<i64> = (0..540).collect();
        let train = Batchified::new(&tokens, 20);
        assert_eq!(train.shape(), [27, 20]);
        let w = train.windows(20);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].offset, w[0].seq_len), (0, 20));
        assert_eq!((w[1].offset, w[1].seq_len), (20, 6));
        assert_eq!(train.targets(&w[1]).len(), 6 * 20);
        assert_eq!(train.targets(&w[0])[0], train.input(&w[0])[20]);

        let val = Batchified::new(&(0..414).collect::<Vec<_>>(), 10);
        assert_eq!(val.shape(), [41, 10]);
        let offsets: Vec<_> = val.windows(10).iter().map(|w| w.offset).collect();
        assert_eq!(offsets, [0, 10, 20, 30]);
    }

    #[test]
    fn too_short_streams_have_no_windows() {
        assert!(Batchified::new(&[1, 2, 3], 2).windows(2).is_empty());
        assert!(Batchified::new(&[1, 2, 3], 0).windows(2).is_empty());
        assert!(
            Batchified::new(&(0..40).collect::<Vec<_>>(), 10)
                .windows(0)
                .is_empty()
        );
    }
}
