//! [`Attributes`]: one object's attributes, compact.

use std::fmt::{Display, Write};
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One object's attributes: name → value (`None` for SQL NULL), in name order.
///
/// Compact, because a large catalog has tens of thousands of objects: the names are
/// shared by the objects of one query, and the values that are not NULL are kept one
/// after another in one string. An object is three allocations (names shared), not one
/// per value and a slot of 40 bytes per attribute: `pum check` of two 1,000-table
/// catalogs touched 58 MB before, and reading, sorting and comparing the scattered
/// values was a sixth of its time.
#[derive(Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The names, in name order.
    names: Arc<[Arc<str>]>,
    /// The values that are not NULL, one after another.
    text: Box<str>,
    /// Per name: where its value ends in `text` (it starts where the one before ends),
    /// with [`NULL`] set for SQL NULL.
    ends: Box<[u32]>,
}

/// The flag of a NULL value in [`Attributes::ends`].
const NULL: u32 = 1 << 31;

/// As a map: `{"default": Some("0"), "type": Some("integer")}`.
impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Default for Attributes {
    fn default() -> Attributes {
        Attributes::new()
    }
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Attributes {
        Attributes {
            names: Arc::from(Vec::new()),
            text: Box::from(""),
            ends: Box::from([]),
        }
    }

    /// The value of the attribute `name`: `Some(None)` when it is NULL, `None` when there
    /// is no such attribute.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.position(name).ok().map(|i| self.value(i))
    }

    /// Sets the attribute `name`, returning its former value if it had one.
    pub fn insert(
        &mut self,
        name: impl Into<Arc<str>>,
        value: Option<String>,
    ) -> Option<Option<String>> {
        let name = name.into();
        let mut entries = self.entries();
        let former = match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, value)),
            Err(i) => {
                entries.insert(i, (name, value));
                None
            }
        };
        *self = Attributes::of_entries(entries);
        former
    }

    /// Takes the attributes `out` out (those that are there) and then sets `set`, if
    /// given, in one go (the attributes are made once, not once per change).
    pub(crate) fn change(&mut self, out: &[&str], set: Option<(&str, Option<String>)>) {
        if set.is_none() && !out.iter().any(|name| self.contains_key(name)) {
            return;
        }
        let mut entries = self.entries();
        entries.retain(|(name, _)| !out.contains(&&**name));
        if let Some((name, value)) = set {
            match entries.binary_search_by(|(n, _)| (**n).cmp(name)) {
                Ok(i) => entries[i].1 = value,
                Err(i) => entries.insert(i, (Arc::from(name), value)),
            }
        }
        *self = Attributes::of_entries(entries);
    }

    /// Whether the attribute `name` is there (NULL or not).
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        (0..self.names.len()).map(|i| (&*self.names[i], self.value(i)))
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The value of the `i`th attribute.
    fn value(&self, i: usize) -> Option<&str> {
        let end = self.ends[i];
        if end & NULL != 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] & !NULL };
        Some(&self.text[start as usize..end as usize])
    }

    /// Where `name` is, or would go.
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.names.binary_search_by(|n| (**n).cmp(name))
    }

    /// The names and owned values, for a change.
    fn entries(&self) -> Vec<(Arc<str>, Option<String>)> {
        (0..self.names.len())
            .map(|i| (self.names[i].clone(), self.value(i).map(str::to_string)))
            .collect()
    }

    /// Attributes of entries in name order.
    fn of_entries(entries: Vec<(Arc<str>, Option<String>)>) -> Attributes {
        let mut values = Values::with_capacity(entries.len());
        let mut names = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            values.push(value.as_deref());
            names.push(name);
        }
        values.named(names.into())
    }
}

/// The values of one object's attributes, in its names' order, as they are read; made
/// [`Attributes`] with the names.
pub(crate) struct Values {
    text: String,
    ends: Vec<u32>,
}

impl Values {
    /// Room for `n` values.
    pub(crate) fn with_capacity(n: usize) -> Values {
        Values {
            text: String::new(),
            ends: Vec::with_capacity(n),
        }
    }

    /// The next value (`None`: NULL).
    pub(crate) fn push(&mut self, value: Option<&str>) {
        match value {
            Some(text) => {
                self.text.push_str(text);
                self.end();
            }
            None => self.ends.push(self.last() | NULL),
        }
    }

    /// The next value, written as `value` displays.
    pub(crate) fn push_display(&mut self, value: impl Display) {
        // Writing to a string cannot fail.
        let _ = write!(self.text, "{value}");
        self.end();
    }

    /// The values with their names (as many, in name order).
    pub(crate) fn named(self, names: Arc<[Arc<str>]>) -> Attributes {
        debug_assert_eq!(names.len(), self.ends.len());
        debug_assert!(names.windows(2).all(|w| w[0] < w[1]));
        Attributes {
            names,
            text: self.text.into_boxed_str(),
            ends: self.ends.into_boxed_slice(),
        }
    }

    /// Where the text written so far ends.
    fn last(&self) -> u32 {
        self.ends.last().map_or(0, |end| end & !NULL)
    }

    /// Ends the value just written. An object's values come from one row (and a
    /// definition PostgreSQL writes), which PostgreSQL keeps under 1 GB: far from the
    /// 2 GB the offsets can tell.
    fn end(&mut self) {
        let end = u32::try_from(self.text.len()).map_or(NULL - 1, |end| end.min(NULL - 1));
        self.ends.push(end);
    }
}

impl<N: Into<Arc<str>>> FromIterator<(N, Option<String>)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (N, Option<String>)>>(items: I) -> Attributes {
        let mut entries: Vec<(Arc<str>, Option<String>)> = Vec::new();
        for (name, value) in items {
            let name = name.into();
            match entries.binary_search_by(|(n, _)| n.cmp(&name)) {
                Ok(i) => entries[i].1 = value,
                Err(i) => entries.insert(i, (name, value)),
            }
        }
        Attributes::of_entries(entries)
    }
}

/// As a JSON object (Python pum's report shape): `{"name": value, …}`.
impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Entries as a map: what `Attributes` stands for.
    fn entries() -> impl Strategy<Value = BTreeMap<String, Option<String>>> {
        prop::collection::btree_map("[a-d_]{1,3}", prop::option::of(".{0,4}"), 0..6)
    }

    proptest! {
        #[test]
        fn attributes_read_back_the_entries_they_were_made_of(
            a in entries(), b in entries(), name in "[a-d_]{1,3}", value in prop::option::of(".{0,4}")
        ) {
            let made = |m: &BTreeMap<String, Option<String>>| -> Attributes {
                m.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
            };
            let (x, y) = (made(&a), made(&b));
            let read: BTreeMap<String, Option<String>> =
                x.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
            prop_assert_eq!(&read, &a);
            prop_assert_eq!(x == y, a == b);
            for (k, v) in &a {
                prop_assert_eq!(x.get(k), Some(v.as_deref()));
            }
            // Changed in place, as after a fresh make.
            let (mut changed, mut expected) = (x.clone(), a.clone());
            prop_assert_eq!(changed.insert(name.as_str(), value.clone()), expected.insert(name.clone(), value));
            prop_assert_eq!(&changed, &made(&expected));
            changed.change(&[name.as_str(), "a"], None);
            expected.remove(&name);
            expected.remove("a");
            prop_assert_eq!(&changed, &made(&expected));
            changed.change(&["b"], Some(("a", Some("x".into()))));
            expected.remove("b");
            expected.insert("a".into(), Some("x".into()));
            prop_assert_eq!(&changed, &made(&expected));
        }
    }

    #[test]
    fn attributes_stay_in_name_order_whatever_the_insertion_order() {
        let mut a: Attributes = [("type", Some("int".to_string())), ("default", None)]
            .into_iter()
            .collect();
        assert_eq!(a.insert("not_null", Some("true".into())), None);
        assert_eq!(a.insert("default", Some("0".into())), Some(None));
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["default", "not_null", "type"]);
        assert_eq!(a.get("default"), Some(Some("0")));
        assert_eq!(a.get("collation"), None);
        assert!(a.contains_key("type") && !a.contains_key("typ"));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"default":"0","not_null":"true","type":"int"}"#
        );
        let b: Attributes = [
            ("type", Some("int".to_string())),
            ("not_null", Some("true".into())),
            ("default", Some("0".into())),
        ]
        .into_iter()
        .collect();
        assert_eq!(a, b);
        a.change(&["not_null", "collation"], None);
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["default", "type"]);
    }

    #[test]
    fn null_empty_and_written_values_are_told_apart() {
        let names: Arc<[Arc<str>]> = ["a", "b", "c", "d", "e"].map(Arc::from).into();
        let mut values = Values::with_capacity(5);
        values.push(None);
        values.push(Some(""));
        values.push_display(42);
        values.push(None);
        values.push(Some("é x"));
        let a = values.named(names);
        let read: Vec<(&str, Option<&str>)> = a.iter().collect();
        assert_eq!(
            read,
            [
                ("a", None),
                ("b", Some("")),
                ("c", Some("42")),
                ("d", None),
                ("e", Some("é x"))
            ]
        );
        // The same attributes built another way are equal.
        let b: Attributes = read
            .iter()
            .map(|(n, v)| (*n, v.map(str::to_string)))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, Attributes::new());
        assert!(Attributes::new().is_empty());
        assert_eq!(
            format!("{a:?}"),
            r#"{"a": None, "b": Some(""), "c": Some("42"), "d": None, "e": Some("é x")}"#
        );
    }
}
