//! What an answer says about the data it was decided on, beyond the snapshot version:
//! each registry's generation (the receipt signs it with the rest of the answer).

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::index::RegistryIndex;

/// Each registry's live generation (the import that wrote it; null without data), by name.
pub struct Generations<'a>(pub &'a [Arc<RegistryIndex>]);

impl Serialize for Generations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for r in self.0 {
            map.serialize_entry(&*r.name, &r.generation)?;
        }
        map.end()
    }
}
