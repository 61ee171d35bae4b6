//! Topic routes with named levels: `metrics/{tenant}/{agent}/{metric}`.
//!
//! A pattern is an MQTT filter whose levels may carry names: `{name}` takes
//! one level (`+`), a last `{name*}` takes the remaining ones (`#`). Plain
//! levels, `+` and `#` keep their meaning, and `$share/{group}/` may stand in
//! front. A subscriber's routes are kept in a tree of levels, so matching a
//! message costs about one step per level of its topic, however many routes
//! there are.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use super::topic::{validate_filter, TopicError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    #[error("{0}")]
    Filter(#[from] TopicError),
    #[error("has an unclosed '{{' in level \"{0}\"")]
    Unclosed(String),
    #[error("must put a named level in braces alone, as in 'a/{{name}}/b', not \"{0}\"")]
    PartialLevel(String),
    #[error("has a level name \"{0}\" that is not a letter, digit or '_' word")]
    BadName(String),
    #[error("uses the name \"{0}\" twice")]
    Repeated(String),
    #[error("must put \"{{{0}*}}\" last: it takes the remaining levels")]
    RestNotLast(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Exact(String),
    /// `+`, named or not.
    One(Option<Arc<str>>),
    /// `#`, named or not.
    Rest(Option<Arc<str>>),
}

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// `$share/{group}/`, when the pattern starts with it.
    share: Option<String>,
    levels: Vec<Level>,
}

/// The named levels of a matched topic, in the pattern's order.
pub type Params = Vec<(Arc<str>, String)>;

const SHARE_PREFIX: &str = "$share/";

impl Pattern {
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let (share, rest) = match pattern.strip_prefix(SHARE_PREFIX) {
            Some(shared) => match shared.split_once('/') {
                Some((group, rest)) => (Some(format!("{SHARE_PREFIX}{group}/")), rest),
                None => return Err(TopicError::SharedSubscription.into()),
            },
            None => (None, pattern),
        };
        let mut names: Vec<&str> = Vec::new();
        let mut levels = Vec::new();
        let count = rest.split('/').count();
        for (index, level) in rest.split('/').enumerate() {
            levels.push(match named(level)? {
                None => match level {
                    "+" => Level::One(None),
                    "#" => Level::Rest(None),
                    _ => Level::Exact(level.to_owned()),
                },
                Some((name, takes_rest)) => {
                    if names.contains(&name) {
                        return Err(PatternError::Repeated(name.to_owned()));
                    }
                    names.push(name);
                    if takes_rest && index + 1 != count {
                        return Err(PatternError::RestNotLast(name.to_owned()));
                    }
                    let name = Some(Arc::from(name));
                    if takes_rest {
                        Level::Rest(name)
                    } else {
                        Level::One(name)
                    }
                }
            });
        }
        let parsed = Pattern { share, levels };
        validate_filter(&parsed.filter())?;
        Ok(parsed)
    }

    /// A plain MQTT filter as a pattern with no names: braces in it are
    /// plain text, as MQTT sees them.
    pub fn of_filter(filter: &str) -> Pattern {
        let (share, rest) = match filter.strip_prefix(SHARE_PREFIX) {
            Some(shared) => match shared.split_once('/') {
                Some((group, rest)) => (Some(format!("{SHARE_PREFIX}{group}/")), rest),
                None => (None, filter),
            },
            None => (None, filter),
        };
        let levels = rest
            .split('/')
            .map(|level| match level {
                "+" => Level::One(None),
                "#" => Level::Rest(None),
                _ => Level::Exact(level.to_owned()),
            })
            .collect();
        Pattern { share, levels }
    }

    /// The MQTT filter it subscribes: `metrics/+/+/+`.
    pub fn filter(&self) -> String {
        let levels: Vec<&str> = self
            .levels
            .iter()
            .map(|level| match level {
                Level::Exact(text) => text.as_str(),
                Level::One(_) => "+",
                Level::Rest(_) => "#",
            })
            .collect();
        format!(
            "{}{}",
            self.share.as_deref().unwrap_or(""),
            levels.join("/")
        )
    }

    /// The named levels of `topic`, which the tree found matching.
    fn params(&self, topic: &[&str]) -> Params {
        let mut params = Params::new();
        for (index, level) in self.levels.iter().enumerate() {
            match level {
                Level::One(Some(name)) => {
                    params.push((name.clone(), topic[index].to_owned()));
                }
                Level::Rest(Some(name)) => {
                    let rest = topic.get(index..).unwrap_or_default().join("/");
                    params.push((name.clone(), rest));
                }
                _ => {}
            }
        }
        params
    }
}

/// `{name}` or `{name*}` as (name, takes the rest); `None` for a plain level.
fn named(level: &str) -> Result<Option<(&str, bool)>, PatternError> {
    if !level.contains(['{', '}']) {
        return Ok(None);
    }
    let Some(inner) = level.strip_prefix('{') else {
        return Err(PatternError::PartialLevel(level.to_owned()));
    };
    let Some(inner) = inner.strip_suffix('}') else {
        return Err(if level.contains('}') {
            PatternError::PartialLevel(level.to_owned())
        } else {
            PatternError::Unclosed(level.to_owned())
        });
    };
    let (name, takes_rest) = match inner.strip_suffix('*') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    let word = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !word {
        return Err(PatternError::BadName(name.to_owned()));
    }
    Ok(Some((name, takes_rest)))
}

/// Which route a message matched, with its named levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: usize,
    pub params: Params,
}

/// The routes of one subscriber, by number in the order they were added.
#[derive(Debug, Default)]
pub struct Routes {
    patterns: Vec<Pattern>,
    root: Node,
}

#[derive(Debug, Default)]
struct Node {
    exact: HashMap<String, Node>,
    one: Option<Box<Node>>,
    /// Routes ending here with `#`: they take this level and all below.
    rest: Vec<usize>,
    /// Routes ending exactly here.
    end: Vec<usize>,
}

impl Routes {
    /// Adds a route; returns its number.
    pub fn add(&mut self, pattern: Pattern) -> usize {
        let route = self.patterns.len();
        let mut node = &mut self.root;
        for level in &pattern.levels {
            node = match level {
                Level::Exact(text) => node.exact.entry(text.clone()).or_default(),
                Level::One(_) => node.one.get_or_insert_with(Box::default),
                Level::Rest(_) => break,
            };
        }
        match pattern.levels.last() {
            Some(Level::Rest(_)) => node.rest.push(route),
            _ => node.end.push(route),
        }
        self.patterns.push(pattern);
        route
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Every route `topic` matches, in the order they were added.
    pub fn matching(&self, topic: &str) -> Vec<Matched> {
        if self.patterns.is_empty() {
            return Vec::new();
        }
        let levels: Vec<&str> = topic.split('/').collect();
        self.numbers_of(topic, &levels)
            .into_iter()
            .map(|route| Matched {
                route,
                params: self.patterns[route].params(&levels),
            })
            .collect()
    }

    /// The numbers of the routes `topic` matches, in the order they were
    /// added: for whoever needs no named levels.
    pub fn numbers(&self, topic: &str) -> Vec<usize> {
        if self.patterns.is_empty() {
            return Vec::new();
        }
        let levels: Vec<&str> = topic.split('/').collect();
        self.numbers_of(topic, &levels)
    }

    fn numbers_of(&self, topic: &str, levels: &[&str]) -> Vec<usize> {
        let mut routes = Vec::new();
        // Server topics like `$SYS/...` are only for routes that name their first level.
        let wildcard_first = !topic.starts_with('$');
        collect(&self.root, levels, wildcard_first, &mut routes);
        routes.sort_unstable();
        routes.dedup();
        routes
    }
}

fn collect(node: &Node, levels: &[&str], wildcards: bool, routes: &mut Vec<usize>) {
    if wildcards {
        routes.extend(&node.rest);
    }
    let Some((level, below)) = levels.split_first() else {
        routes.extend(&node.end);
        return;
    };
    if let Some(next) = node.exact.get(*level) {
        collect(next, below, true, routes);
    }
    if let (true, Some(next)) = (wildcards, &node.one) {
        collect(next, below, true, routes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(patterns: &[&str]) -> Routes {
        let mut routes = Routes::default();
        for pattern in patterns {
            routes.add(Pattern::parse(pattern).unwrap());
        }
        routes
    }

    fn params(matched: &Matched) -> Vec<(&str, &str)> {
        matched
            .params
            .iter()
            .map(|(name, value)| (&**name, value.as_str()))
            .collect()
    }

    #[test]
    fn named_levels_become_wildcards_of_the_filter() {
        let filter = |p: &str| Pattern::parse(p).unwrap().filter();
        assert_eq!(filter("metrics/{tenant}/{agent}/{metric}"), "metrics/+/+/+");
        assert_eq!(filter("logs/{app}/{rest*}"), "logs/+/#");
        assert_eq!(
            filter("$share/workers/jobs/{queue}"),
            "$share/workers/jobs/+"
        );
        assert_eq!(filter("plain/+/and/#"), "plain/+/and/#");
    }

    #[test]
    fn a_matching_topic_gives_its_named_levels() {
        let routes = routes(&["metrics/{tenant}/{agent}/{metric}"]);
        let matched = routes.matching("metrics/t1/a7/cpu");
        assert_eq!(matched.len(), 1);
        assert_eq!(
            params(&matched[0]),
            [("tenant", "t1"), ("agent", "a7"), ("metric", "cpu")]
        );
        assert!(
            routes.matching("metrics/t1/a7").is_empty(),
            "a level missing"
        );
        assert!(
            routes.matching("metrics/t1/a7/cpu/x").is_empty(),
            "a level too many"
        );
    }

    #[test]
    fn a_rest_level_takes_the_remaining_levels_and_the_parent() {
        let routes = routes(&["logs/{app}/{path*}"]);
        assert_eq!(
            params(&routes.matching("logs/web/a/b/c")[0]),
            [("app", "web"), ("path", "a/b/c")]
        );
        assert_eq!(
            params(&routes.matching("logs/web")[0]),
            [("app", "web"), ("path", "")]
        );
    }

    #[test]
    fn every_matching_route_gets_the_message_once_in_the_order_added() {
        let routes = routes(&[
            "sensors/{room}/temperature",
            "sensors/#",
            "sensors/kitchen/{what}",
            "other/#",
        ]);
        let matched: Vec<usize> = routes
            .matching("sensors/kitchen/temperature")
            .iter()
            .map(|m| m.route)
            .collect();
        assert_eq!(matched, [0, 1, 2]);
    }

    #[test]
    fn shared_routes_match_the_topic_without_their_group() {
        let routes = routes(&["$share/g/jobs/{queue}"]);
        assert_eq!(
            params(&routes.matching("jobs/high")[0]),
            [("queue", "high")]
        );
    }

    #[test]
    fn server_topics_need_a_route_that_names_their_first_level() {
        let routes = routes(&["#", "{any}/load", "$SYS/{what}/load"]);
        let matched: Vec<usize> = routes
            .matching("$SYS/broker/load")
            .iter()
            .map(|m| m.route)
            .collect();
        assert_eq!(matched, [2]);
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        let error = |p: &str| Pattern::parse(p).unwrap_err().to_string();
        assert_eq!(
            error("metrics/{tenant/x"),
            "has an unclosed '{' in level \"{tenant\""
        );
        assert_eq!(error("a/{id}/b/{id}"), "uses the name \"id\" twice");
        assert_eq!(
            error("a/{rest*}/b"),
            "must put \"{rest*}\" last: it takes the remaining levels"
        );
        assert_eq!(
            error("a/x{id}"),
            "must put a named level in braces alone, as in 'a/{name}/b', not \"x{id}\""
        );
        assert_eq!(
            error("a/{}"),
            "has a level name \"\" that is not a letter, digit or '_' word"
        );
        assert_eq!(error("a/#/b"), "must use '#' only as the last topic level");
        assert_eq!(error(""), "must not be empty");
    }

    #[test]
    fn a_thousand_routes_are_matched_through_the_tree() {
        let patterns: Vec<String> = (0..1000)
            .map(|i| format!("tenants/t{i}/{{device}}/{{metric}}"))
            .collect();
        let mut routes = Routes::default();
        for pattern in &patterns {
            routes.add(Pattern::parse(pattern).unwrap());
        }
        let matched = routes.matching("tenants/t500/d1/cpu");
        assert_eq!(matched.len(), 1);
        assert_eq!(matched[0].route, 500);
        assert_eq!(params(&matched[0]), [("device", "d1"), ("metric", "cpu")]);
    }
}
