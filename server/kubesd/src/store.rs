//! The local copy of watched objects of one kind, fed by `kube::runtime::watcher` events from
//! one stream per namespace (or one for all). A re-list (after a watch error or an API server
//! restart) is buffered until complete and then swapped in whole, and every key that appeared
//! or vanished is reported, so no deleted object survives an outage as a stale target.

use std::collections::{BTreeMap, HashMap};

use kube::runtime::watcher::Event;

/// `(namespace, name)`; cluster-scoped objects have an empty namespace.
pub type ObjectKey = (String, String);

pub struct Store<K> {
    objects: BTreeMap<ObjectKey, K>,
    /// Per stream: objects of a re-list in progress.
    pending: HashMap<usize, BTreeMap<ObjectKey, K>>,
    /// Per stream: its namespace (`None` = all namespaces or cluster-scoped), and whether its
    /// first list completed.
    streams: Vec<(Option<String>, bool)>,
}

impl<K> Store<K> {
    /// A store fed by one stream per entry of `scopes`.
    pub fn new(scopes: Vec<Option<String>>) -> Self {
        Store {
            objects: BTreeMap::new(),
            pending: HashMap::new(),
            streams: scopes.into_iter().map(|s| (s, false)).collect(),
        }
    }

    /// True once every stream has listed its objects once.
    pub fn synced(&self) -> bool {
        self.streams.iter().all(|(_, s)| *s)
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&K> {
        self.objects.get(&(namespace.to_string(), name.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &K)> {
        self.objects.iter()
    }

    /// Objects of one namespace.
    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = (&'a ObjectKey, &'a K)> + 'a {
        self.objects.range((namespace.to_string(), String::new())..).take_while(move |(k, _)| k.0 == namespace)
    }

    /// Applies one watcher event from `stream` and returns the keys whose object changed
    /// (added, modified or removed). Nothing is reported while a list is in progress.
    pub fn apply(&mut self, stream: usize, event: Event<K>, key_of: impl Fn(&K) -> ObjectKey) -> Vec<ObjectKey> {
        match event {
            Event::Apply(o) => {
                let k = key_of(&o);
                self.objects.insert(k.clone(), o);
                vec![k]
            }
            Event::Delete(o) => {
                let k = key_of(&o);
                self.objects.remove(&k);
                vec![k]
            }
            Event::Init => {
                self.pending.insert(stream, BTreeMap::new());
                Vec::new()
            }
            Event::InitApply(o) => {
                let k = key_of(&o);
                self.pending.entry(stream).or_default().insert(k, o);
                Vec::new()
            }
            Event::InitDone => {
                let fresh = self.pending.remove(&stream).unwrap_or_default();
                let scope = self.streams.get(stream).and_then(|(s, _)| s.clone());
                let in_scope = |k: &ObjectKey| scope.as_deref().is_none_or(|ns| k.0 == ns);
                let old: Vec<ObjectKey> = self.objects.keys().filter(|k| in_scope(k)).cloned().collect();
                let mut changed = Vec::with_capacity(old.len().max(fresh.len()));
                for k in old {
                    if !fresh.contains_key(&k) {
                        self.objects.remove(&k);
                        changed.push(k);
                    }
                }
                for (k, o) in fresh {
                    self.objects.insert(k.clone(), o);
                    changed.push(k);
                }
                if let Some(s) = self.streams.get_mut(stream) {
                    s.1 = true;
                }
                changed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(o: &(&'static str, &'static str, u32)) -> ObjectKey {
        (o.0.to_string(), o.1.to_string())
    }

    #[test]
    fn relist_reports_vanished_objects_and_replaces_only_its_scope() {
        let mut s: Store<(&str, &str, u32)> = Store::new(vec![Some("a".into()), Some("b".into())]);
        assert!(s.apply(0, Event::Init, key).is_empty());
        s.apply(0, Event::InitApply(("a", "x", 1)), key);
        s.apply(0, Event::InitApply(("a", "y", 1)), key);
        assert_eq!(s.apply(0, Event::InitDone, key).len(), 2);
        assert!(!s.synced());
        s.apply(1, Event::Init, key);
        s.apply(1, Event::InitApply(("b", "z", 1)), key);
        s.apply(1, Event::InitDone, key);
        assert!(s.synced());

        // Stream 0 re-lists after an outage in which "x" was deleted and "y" changed.
        s.apply(0, Event::Init, key);
        s.apply(0, Event::InitApply(("a", "y", 2)), key);
        let mut changed = s.apply(0, Event::InitDone, key);
        changed.sort();
        assert_eq!(changed, vec![key(&("a", "x", 0)), key(&("a", "y", 0))]);
        assert!(s.get("a", "x").is_none());
        assert_eq!(s.get("a", "y").map(|o| o.2), Some(2));
        assert_eq!(s.get("b", "z").map(|o| o.2), Some(1), "other stream's objects stay");
        assert_eq!(s.in_namespace("a").count(), 1);

        assert_eq!(s.apply(1, Event::Delete(("b", "z", 1)), key), vec![key(&("b", "z", 0))]);
        assert_eq!(s.iter().count(), 1);
    }
}
