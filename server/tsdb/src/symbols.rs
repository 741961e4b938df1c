//! The head's string interner. Series store label names and values as `u32` symbol ids, so a
//! label string shared by many series (`job="node"`) is held once. Symbols are reference
//! counted and their ids recycled when the last series using them is garbage-collected, so
//! churning label values do not leak.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Symbols {
    ids: HashMap<Arc<str>, u32, ahash::RandomState>,
    strings: Vec<Arc<str>>,
    refs: Vec<u32>,
    free: Vec<u32>,
}

impl Symbols {
    /// Returns the id of `s`, adding one reference.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let arc: Arc<str> = Arc::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = arc.clone();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(arc.clone());
                self.refs.push(1);
                (self.strings.len() - 1) as u32
            }
        };
        self.ids.insert(arc, id);
        id
    }

    /// Drops one reference; the symbol is forgotten when none are left.
    pub(crate) fn release(&mut self, id: u32) {
        let i = id as usize;
        let Some(r) = self.refs.get_mut(i) else { return };
        *r = r.saturating_sub(1);
        if *r == 0 {
            let s = std::mem::replace(&mut self.strings[i], Arc::from(""));
            self.ids.remove(&s);
            self.free.push(id);
        }
    }

    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map(|s| &**s).unwrap_or("")
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_shared_and_recycled() {
        let mut s = Symbols::default();
        let a = s.intern("job");
        let b = s.intern("job");
        assert_eq!(a, b);
        assert_eq!(s.get(a), "job");
        s.release(a);
        assert_eq!(s.lookup("job"), Some(a), "one reference is still held");
        s.release(a);
        assert_eq!(s.lookup("job"), None);
        let c = s.intern("instance");
        assert_eq!(c, a, "freed id is reused");
        assert_eq!(s.get(c), "instance");
        assert_eq!(s.len(), 1);
    }
}
