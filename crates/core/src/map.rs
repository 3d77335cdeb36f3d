//! [`Map`], the object type of event fields: keys in insertion order (JSON readers and
//! golden files expect it), laid out for the small objects events are made of.
//!
//! Why not `IndexMap` directly: a grok match on `%{COMBINEDAPACHELOG}` builds seven small
//! nested objects (`[http][request][method]`, ...). An `IndexMap` costs two allocations
//! per object (entries and hash table) plus one per `String` key, and that allocation
//! work was two thirds of the filter's time. Here an object is one `Vec` of entries,
//! keys up to 24 bytes live inline ([`Key`]), small objects are searched by a linear scan
//! (faster than hashing for a handful of short keys), and a hash index is added only
//! once an object grows past [`LINEAR_MAX`] entries, so large JSON documents stay O(1).

use crate::value::Value;
use hashbrown::HashTable;
use std::fmt;
use std::hash::BuildHasher;

/// A field name. Names up to 24 bytes (nearly all of them) need no allocation.
pub type Key = compact_str::CompactString;

/// Objects with at most this many entries are searched linearly, without an index.
pub const LINEAR_MAX: usize = 12;

/// An insertion-ordered map from field names to values.
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<(Key, Value)>,
    /// Entry positions by key hash; present only above [`LINEAR_MAX`] entries.
    index: Option<Box<Index>>,
}

#[derive(Clone)]
struct Index {
    table: HashTable<u32>,
    /// Seeded per process, so crafted field names cannot force collisions.
    hasher: foldhash::fast::RandomState,
}

impl Index {
    fn build(entries: &[(Key, Value)]) -> Index {
        let mut ix = Index {
            table: HashTable::with_capacity(entries.len() * 2),
            hasher: Default::default(),
        };
        for (pos, (k, _)) in entries.iter().enumerate() {
            let h = ix.hasher.hash_one(k.as_str());
            ix.table.insert_unique(h, pos as u32, |&p| {
                ix.hasher.hash_one(entries[p as usize].0.as_str())
            });
        }
        ix
    }

    fn find(&self, entries: &[(Key, Value)], key: &str) -> Option<usize> {
        let h = self.hasher.hash_one(key);
        self.table
            .find(h, |&p| entries[p as usize].0 == key)
            .map(|&p| p as usize)
    }
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }

    /// Position of `key`.
    pub fn get_index_of(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.find(&self.entries, key),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.get_index_of(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.get_index_of(key)?;
        Some(&mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get_index_of(key).is_some()
    }

    pub fn get_index(&self, i: usize) -> Option<(&Key, &Value)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    pub fn get_index_mut(&mut self, i: usize) -> Option<(&Key, &mut Value)> {
        self.entries.get_mut(i).map(|(k, v)| (&*k, v))
    }

    pub fn first(&self) -> Option<(&Key, &Value)> {
        self.get_index(0)
    }

    /// Appends a key known to be absent; returns its position. Inlined: built in place,
    /// the entry skips a copy through the stack that stalled store forwarding.
    #[inline(always)]
    fn push_new(&mut self, key: Key, value: Value) -> usize {
        let pos = self.entries.len();
        self.entries.push((key, value));
        match &mut self.index {
            Some(ix) => {
                let entries = &self.entries;
                let hasher = &ix.hasher;
                let h = hasher.hash_one(entries[pos].0.as_str());
                ix.table.insert_unique(h, pos as u32, |&p| {
                    hasher.hash_one(entries[p as usize].0.as_str())
                });
            }
            None if pos >= LINEAR_MAX => {
                self.index = Some(Box::new(Index::build(&self.entries)));
            }
            None => {}
        }
        pos
    }

    /// Appends `key`, which the caller has just looked up and found absent (saves the
    /// second search of [`Map::insert`]); returns its position.
    pub fn insert_absent(&mut self, key: Key, value: Value) -> usize {
        debug_assert!(!self.contains_key(&key), "insert_absent with a present key");
        self.push_new(key, value)
    }

    /// A map holding one entry, with room for `cap`.
    pub fn with_first(cap: usize, key: Key, value: Value) -> Map {
        let mut entries = Vec::with_capacity(cap.max(1));
        entries.push((key, value));
        Map {
            entries,
            index: None,
        }
    }

    /// Sets `key`; an existing key keeps its position and the old value is returned.
    pub fn insert(&mut self, key: impl Into<Key>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.get_index_of(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push_new(key, value);
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others (O(n), as `IndexMap::shift_remove`).
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.get_index_of(key)?;
        let (_, v) = self.entries.remove(i);
        self.reindex();
        Some(v)
    }

    /// Removes `key`, moving the last entry into its place (as `IndexMap::swap_remove`).
    pub fn swap_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.get_index_of(key)?;
        let (_, v) = self.entries.swap_remove(i);
        self.reindex();
        Some(v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut Value) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.entries.len() != before {
            self.reindex();
        }
    }

    pub fn sort_keys(&mut self) {
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        self.reindex();
    }

    /// Rebuilds the index after positions changed (or drops it when small again).
    fn reindex(&mut self) {
        self.index =
            (self.entries.len() > LINEAR_MAX).then(|| Box::new(Index::build(&self.entries)));
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.entries.iter_mut())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

/// Iterator over `(&key, &value)` in order.
pub struct Iter<'a>(std::slice::Iter<'a, (Key, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}
impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}
impl ExactSizeIterator for Iter<'_> {}

/// Iterator over `(&key, &mut value)` in order (keys cannot change: the index holds them).
pub struct IterMut<'a>(std::slice::IterMut<'a, (Key, Value)>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Key, &'a mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}
impl DoubleEndedIterator for IterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&*k, v))
    }
}
impl ExactSizeIterator for IterMut<'_> {}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a Key, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Key>> Extend<(K, Value)> for Map {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<Key>> FromIterator<(K, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Map {
        let iter = iter.into_iter();
        let mut m = Map::with_capacity(iter.size_hint().0);
        m.extend(iter);
        m
    }
}

impl<K: Into<Key>, const N: usize> From<[(K, Value); N]> for Map {
    fn from(a: [(K, Value); N]) -> Map {
        a.into_iter().collect()
    }
}

/// Equal when both hold the same keys with equal values, in any order (as `IndexMap`
/// and Logstash's hashes compare).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// Panics when the key is absent, as `IndexMap` does (tests only).
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no key {key:?} in map"),
        }
    }
}

impl serde::Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k.as_str(), v)?;
        }
        m.end()
    }
}

impl<'de> serde::Deserialize<'de> for Map {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => Ok(*m),
            other => Err(serde::de::Error::custom(format_args!(
                "expected a JSON object, found {}",
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(n: usize) -> Map {
        (0..n)
            .map(|i| (format!("k{i}"), Value::Integer(i as i64)))
            .collect()
    }

    #[test]
    fn keeps_insertion_order_and_replaces_in_place() {
        let mut m = Map::new();
        m.insert("b", Value::Integer(1));
        m.insert("a", Value::Integer(2));
        assert_eq!(m.insert("b", Value::Integer(3)), Some(Value::Integer(1)));
        let keys: Vec<&str> = m.keys().map(Key::as_str).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.get("b"), Some(&Value::Integer(3)));
    }

    #[test]
    fn index_appears_with_size_and_stays_consistent() {
        for n in [LINEAR_MAX - 1, LINEAR_MAX, LINEAR_MAX + 1, 200] {
            let mut m = big(n);
            assert_eq!(m.index.is_some(), n > LINEAR_MAX, "{n}");
            for i in 0..n {
                assert_eq!(m.get(&format!("k{i}")), Some(&Value::Integer(i as i64)));
            }
            assert!(m.get("missing").is_none());
            // Removal keeps order and positions right, with and without the index.
            assert_eq!(m.shift_remove("k0"), Some(Value::Integer(0)));
            assert_eq!(m.get_index_of("k1"), Some(0));
            assert_eq!(m.get_index_of(&format!("k{}", n - 1)), Some(n - 2));
            assert_eq!(m.swap_remove("k1"), Some(Value::Integer(1)));
            assert_eq!(m.get_index_of(&format!("k{}", n - 1)), Some(0));
            m.retain(|k, _| k.as_str() != "k5");
            assert!(!m.contains_key("k5"));
            for i in 6..n {
                assert_eq!(m.get(&format!("k{i}")), Some(&Value::Integer(i as i64)));
            }
        }
    }

    #[test]
    fn equality_ignores_order() {
        let mut m = Map::new();
        m.insert("x", Value::Integer(5));
        if let Some(v) = m.get_mut("x") {
            *v = Value::Integer(6);
        }
        m.insert("y", Value::Null);
        let other: Map = [("y", Value::Null), ("x", Value::Integer(6))].into();
        assert_eq!(m, other);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"x":6,"y":null}"#);
        let back: Map = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn long_keys_work_like_short_ones() {
        let long = "a".repeat(100);
        let mut m = big(20);
        m.insert(long.as_str(), Value::Bool(true));
        assert_eq!(m.get(&long), Some(&Value::Bool(true)));
        m.sort_keys();
        assert_eq!(m.first().map(|(k, _)| k.as_str()), Some(long.as_str()));
        assert_eq!(m.get(&long), Some(&Value::Bool(true)));
    }
}
