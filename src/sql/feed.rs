//! [`StatementFeed`]: the statements of a text that comes in parts, such as a file read a
//! block at a time, given as [`super::split::statements`] gives those of a whole text.

use super::split::{Lines, Pieces, SplitError, StatementRef, statement_in};

/// The statements of a text that comes in parts (a file read a block at a time), each
/// given as soon as its `;` has come, as [`statements`] gives them: only the statement
/// not ended yet is kept.
#[derive(Default)]
pub struct StatementFeed {
    /// The text from the start of the statement not ended yet.
    pending: String,
    /// Byte offset of `pending` in the whole text.
    base: usize,
    /// Lines and columns counted up to the start of `pending` (offsets in `pending`).
    lines: Lines,
}

impl StatementFeed {
    /// Adds `text` and calls `each` with every statement it ends.
    ///
    /// # Errors
    /// `each`'s.
    pub fn push<E>(
        &mut self,
        text: &str,
        each: &mut dyn FnMut(StatementRef) -> Result<(), E>,
    ) -> Result<(), E> {
        self.pending.push_str(text);
        let pending = self.pending.as_str();
        let mut pieces = Pieces::new(pending);
        let mut ended = 0;
        // An unterminated construct, or a piece the end of the text ends, may yet be
        // ended by what comes next: it waits, whole, for more.
        while let Some(Ok((range, true))) = pieces.next_piece() {
            ended = range.end;
            if let Some(statement) = statement_in(pending, range, &mut self.lines, self.base) {
                each(statement)?;
            }
        }
        self.lines.at(pending, ended);
        self.lines.drop_counted();
        self.pending.drain(..ended);
        self.base += ended;
        Ok(())
    }

    /// How many bytes wait for the end of their statement.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Ends the text: calls `each` with the last statement if it has no `;`.
    ///
    /// # Errors
    /// An unterminated string, identifier, comment or dollar quote, located in the whole
    /// text and made an `E` by `unterminated`; `each`'s.
    pub fn finish<E>(
        mut self,
        each: &mut dyn FnMut(StatementRef) -> Result<(), E>,
        unterminated: impl FnOnce(SplitError) -> E,
    ) -> Result<(), E> {
        let pending = self.pending.as_str();
        let mut pieces = Pieces::new(pending);
        while let Some(piece) = pieces.next_piece() {
            match piece {
                Ok((range, _)) => {
                    if let Some(statement) =
                        statement_in(pending, range, &mut self.lines, self.base)
                    {
                        each(statement)?;
                    }
                }
                Err(mut err) => {
                    // Located in `pending`, which starts where `lines` counted to.
                    (err.line, err.column) = self.lines.beyond_counted(err.line, err.column);
                    return Err(unterminated(err));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split::{split, statements, tests::sqlish};
    use proptest::prelude::*;

    #[test]
    fn statements_come_as_their_parts_come() {
        let text = "SELECT 1;\n  SELECT 2;\nSELECT 'open;\nSELECT 3;";
        let err = statements(text).nth(2).unwrap().unwrap_err();
        let mut feed = StatementFeed::default();
        let mut got = Vec::new();
        for part in ["SELECT 1;\n  SEL", "ECT 2;\nSELECT 'op", "en;\nSELECT 3;"] {
            feed.push(part, &mut |s| {
                got.push((s.sql.to_string(), s.offset, s.line, s.column));
                Ok::<_, SplitError>(())
            })
            .unwrap();
        }
        assert_eq!(
            got,
            [
                ("SELECT 1;".into(), 0, 1, 1),
                ("SELECT 2;".into(), 12, 2, 3)
            ]
        );
        assert_eq!(feed.finish(&mut |_| Ok(()), |e| e), Err(err));
    }

    proptest! {
        #[test]
        fn a_text_fed_in_parts_gives_the_statements_of_the_whole(
            text in sqlish(),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut feed = StatementFeed::default();
            let mut got = Vec::new();
            let mut at = 0;
            for cut in cuts {
                let mut end = (at + cut).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                feed.push(&text[at..end], &mut |s| {
                    got.push(s.to_statement());
                    Ok::<_, SplitError>(())
                })
                .unwrap();
                at = end;
            }
            feed.push(&text[at..], &mut |s| {
                got.push(s.to_statement());
                Ok::<_, SplitError>(())
            })
            .unwrap();
            feed.finish(
                &mut |s| {
                    got.push(s.to_statement());
                    Ok::<_, SplitError>(())
                },
                |e| e,
            )
            .unwrap();
            prop_assert_eq!(got, split(&text).unwrap());
        }

    }
}
