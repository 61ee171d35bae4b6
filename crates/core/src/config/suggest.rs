//! "Did you mean": the known option nearest to a mistyped one.

use std::cmp::Reverse;

/// "has an unknown {what} \"{key}\" (did you mean ...); known: ...", for an
/// entry of an array argument keyed by name.
pub(crate) fn unknown_entry(what: &str, key: &str, known: &[&'static str]) -> String {
    let suggestion = nearest(key, known.iter().map(|k| (*k, (*k).to_owned())));
    format!(
        "has an unknown {what} \"{key}\"{}; known: {}",
        did_you_mean(suggestion.as_deref()),
        known.join(", ")
    )
}

pub(crate) fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |name| format!(" (did you mean \"{name}\"?)"))
}

/// The path of the candidate whose name is a few edits from `key`, about one
/// edit per three characters. Ties go to the longer shared beginning, so
/// `max_retry` means `max_retries` rather than `max_delay`.
pub(crate) fn nearest(
    key: &str,
    candidates: impl Iterator<Item = (&'static str, String)>,
) -> Option<String> {
    let typed = key.to_lowercase();
    candidates
        .map(|(name, path)| (edit_distance(&typed, name), name, path))
        .filter(|(distance, name, _)| *distance <= (name.len() / 3).max(1))
        .min_by_key(|(distance, name, _)| (*distance, Reverse(shared_prefix(&typed, name))))
        .map(|(_, _, path)| path)
}

fn shared_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Optimal string alignment distance: Levenshtein plus swaps of neighbours,
/// so `hots` is one edit from `host`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between the first i chars of a and the first j of b.
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_swapped_neighbours_as_one_edit() {
        assert_eq!(edit_distance("hots", "host"), 1);
        assert_eq!(edit_distance("keepalive", "keep_alive"), 1);
        assert_eq!(edit_distance("", "qos"), 3);
        assert_eq!(edit_distance("port", "port"), 0);
    }
}
