//! RFC 2782 target selection: SRV records are tried in priority order (lowest first); within one
//! priority, records are picked by weighted random selection ("Usage rules" of RFC 2782):
//! zero-weight records first in the list, a random number in `0..=sum` of the remaining weights,
//! the first record whose running sum reaches it is next, and so on until the priority is used up.

use super::Srv;
use rand::Rng;

/// Orders `records` for trying per RFC 2782, drawing from `rng` (inject a seeded RNG to make the
/// order reproducible in tests).
pub fn order_srv<R: Rng + ?Sized>(mut records: Vec<Srv>, rng: &mut R) -> Vec<Srv> {
    records.sort_by_key(|s| s.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .position(|s| s.priority != first.priority)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(n);
        rest = tail;
        // "all those with weight 0 are placed at the beginning of the list"
        let mut group: Vec<&Srv> = group.iter().collect();
        group.sort_by_key(|s| s.weight != 0);
        while !group.is_empty() {
            let sum: u32 = group.iter().map(|s| u32::from(s.weight)).sum();
            let pick = rng.gen_range(0..=sum);
            let mut running = 0u32;
            let idx = group
                .iter()
                .position(|s| {
                    running += u32::from(s.weight);
                    running >= pick
                })
                .unwrap_or(group.len() - 1);
            out.push(group.remove(idx).clone());
        }
    }
    out
}
