//! SQL text, known without a server: where statements end (the lexer and splitter of
//! [`split`]) and how names and values are quoted into it ([`quote`]).
//!
//! A floor low in the house: changelogs, the wire session, advisory locks, dumps and the
//! 0.x table all take their SQL knowledge from here, and it uses nothing but [`crate::error`].

pub mod feed;
pub mod quote;
pub mod split;

pub use quote::{quote_identifier, quote_literal};
