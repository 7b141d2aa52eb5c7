//! Sequences: made, altered, and given their owning column.

use super::super::model::SequenceDef;
use super::Generator;

impl Generator<'_> {
    pub(super) fn sequences(&mut self) {
        for (name, new) in &self.to.sequences {
            match self.from.sequences.get(name) {
                None => self
                    .script
                    .push(format!("CREATE SEQUENCE {name} {}", sequence_options(new))),
                Some(old) if sequence_options(old) != sequence_options(new) => self
                    .script
                    .push(format!("ALTER SEQUENCE {name} {}", sequence_options(new))),
                Some(_) => {}
            }
        }
    }

    pub(super) fn sequence_owners(&mut self) {
        for (name, new) in &self.to.sequences {
            let old = self
                .from
                .sequences
                .get(name)
                .and_then(|s| s.owned_by.clone());
            if new.owned_by != old {
                let owner = new.owned_by.as_deref().unwrap_or("NONE");
                self.script
                    .push(format!("ALTER SEQUENCE {name} OWNED BY {owner}"));
            }
        }
    }
}

fn sequence_options(sequence: &SequenceDef) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        sequence.kind,
        sequence.increment,
        sequence.minimum,
        sequence.maximum,
        sequence.start,
        sequence.cache,
        if sequence.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}
