//! [`Attributes`]: one object's attributes, compact.

use std::ops::Index;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One object's attributes: name → value (`None` for SQL NULL), in name order.
///
/// A sorted vector, not a map: an object has a handful of attributes and a large catalog
/// tens of thousands of objects, and a map's node per object (half a kilobyte) plus a
/// string per attribute name made up most of what `pum check` allocated. The names of
/// one query's attributes are shared between its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(Vec<(Arc<str>, Option<String>)>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Attributes {
        Attributes(Vec::new())
    }

    /// Room for `n` attributes.
    pub(crate) fn with_capacity(n: usize) -> Attributes {
        Attributes(Vec::with_capacity(n))
    }

    /// The value of the attribute `name` (`Some(None)`: it is NULL; `None`: no such
    /// attribute).
    pub fn get(&self, name: &str) -> Option<&Option<String>> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Sets the attribute `name`, returning its former value if it had one.
    pub fn insert(
        &mut self,
        name: impl Into<Arc<str>>,
        value: Option<String>,
    ) -> Option<Option<String>> {
        let name = name.into();
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Takes the attribute `name` out, returning its value if it was there.
    pub(crate) fn remove(&mut self, name: &str) -> Option<Option<String>> {
        let i = self.position(name).ok()?;
        Some(self.0.remove(i).1)
    }

    /// Whether the attribute `name` is there (NULL or not).
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Option<String>)> {
        self.0.iter().map(|(name, value)| (&**name, value))
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where `name` is, or would go. Rows are read in their columns' order, which is
    /// mostly the names' order: the last place is tried first.
    fn position(&self, name: &str) -> Result<usize, usize> {
        match self.0.last() {
            None => Err(0),
            Some((last, _)) if **last < *name => Err(self.0.len()),
            _ => self.0.binary_search_by(|(n, _)| (**n).cmp(name)),
        }
    }
}

impl Index<&str> for Attributes {
    type Output = Option<String>;

    /// The value of the attribute `name`.
    ///
    /// # Panics
    /// When there is no such attribute, as a map does.
    fn index(&self, name: &str) -> &Option<String> {
        self.get(name)
            .unwrap_or_else(|| panic!("no attribute named {name:?}"))
    }
}

impl<N: Into<Arc<str>>> FromIterator<(N, Option<String>)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (N, Option<String>)>>(items: I) -> Attributes {
        let mut attributes = Attributes::new();
        for (name, value) in items {
            attributes.insert(name, value);
        }
        attributes
    }
}

/// As a JSON object (Python pum's report shape): `{"name": value, …}`.
impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(&**name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_stay_in_name_order_whatever_the_insertion_order() {
        let mut a: Attributes = [("type", Some("int".to_string())), ("default", None)]
            .into_iter()
            .collect();
        assert_eq!(a.insert("not_null", Some("true".into())), None);
        assert_eq!(a.insert("default", Some("0".into())), Some(None));
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["default", "not_null", "type"]);
        assert_eq!(a["default"].as_deref(), Some("0"));
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
    }
}
