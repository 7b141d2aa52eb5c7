//! What to apply: changelog directories, their SQL files, parameters and statements.

pub mod sql;
