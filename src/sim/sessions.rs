//! Server-side sessions of the three sites (CSRF tokens, Keycloak codes, booking progress).
//!
//! Every map is bounded: benchmarks open thousands of fresh visitor sessions and the simulator
//! must not grow without limit. The oldest session is forgotten first, as an expired session on
//! a real site would be. Sessions hold random tokens only, never personal data.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// How many sessions of each kind are kept.
pub(crate) const SESSION_CAP: usize = 10_000;

/// A string-keyed map that forgets its oldest entries beyond a capacity.
pub(crate) struct BoundedMap<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V> BoundedMap<V> {
    pub(crate) fn new(cap: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub(crate) fn insert(&mut self, key: String, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A Keycloak authentication session (cookie `AUTH_SESSION_ID`).
#[derive(Clone, Debug)]
pub(crate) struct AuthSession {
    /// Rotated on every rendering of the login form, as Keycloak does.
    pub session_code: String,
    pub execution: String,
    pub tab_id: String,
    /// The registration form's hidden `csrf_token`.
    pub csrf: String,
}

/// A prefecture booking session (cookie `eZSESSID`).
#[derive(Clone, Debug, Default)]
pub(crate) struct BookingSession {
    pub token: String,
    /// Form ids whose conditions were accepted.
    pub accepted: BTreeSet<u32>,
    /// Counter (`planning`) chosen per form id.
    pub planning: BTreeMap<u32, u32>,
}

/// An RDV-Préfecture session (cookie `RDVPREF_SESSID`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RdvSession {
    pub csrf: String,
    /// Démarche ids whose CGU were accepted.
    pub cgu: BTreeSet<u32>,
}

pub(crate) struct Sessions {
    pub auth: BoundedMap<AuthSession>,
    /// Logged-in portal sessions (cookie `ANEF_SESSION`).
    pub anef: BoundedMap<()>,
    pub booking: BoundedMap<BookingSession>,
    pub rdv: BoundedMap<RdvSession>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            auth: BoundedMap::new(SESSION_CAP),
            anef: BoundedMap::new(SESSION_CAP),
            booking: BoundedMap::new(SESSION_CAP),
            rdv: BoundedMap::new(SESSION_CAP),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_map_forgets_oldest() {
        let mut m = BoundedMap::new(2);
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        m.insert("a".into(), 3); // replacing does not reorder or grow
        m.insert("c".into(), 4);
        assert_eq!(m.len(), 2);
        assert!(!m.contains("a"));
        assert_eq!(m.get("b"), Some(&2));
        assert_eq!(m.get("c"), Some(&4));
    }
}
