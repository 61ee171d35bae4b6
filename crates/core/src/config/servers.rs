//! The `servers` and `url` options: the brokers of a cluster a connection
//! may use, as `host:port` or `mqtt://`, `mqtts://`, `ws://` or `wss://`
//! URLs, user and password allowed in the URL (and never shown).

use super::read::invalid;
use super::value::{describe, Value};
use super::ConfigError;

/// One broker a connection may use.
#[derive(Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    /// `Some(true)` for `mqtts://`, `Some(false)` for `mqtt://`; `None` for
    /// `host:port`, which follows the `tls` option.
    pub tls: Option<bool>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// Over WebSocket (`ws://`, `wss://`): the path of the URL, with its query.
    pub websocket: Option<String>,
}

/// The path of a WebSocket URL that names none: what EMQX, HiveMQ, VerneMQ
/// and AWS IoT serve MQTT on (Mosquitto takes any path).
const WEBSOCKET_PATH: &str = "/mqtt";

impl Server {
    /// How status() and messages name it: never with its credentials.
    pub fn label(&self) -> String {
        let address = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        match &self.websocket {
            // The query may carry a signature: never shown.
            Some(path) => {
                let path = path.split('?').next().unwrap_or_default();
                format!("{}://{address}{path}", self.websocket_scheme())
            }
            None => address,
        }
    }

    /// The URL a WebSocket connection opens, without the credentials.
    pub fn websocket_url(&self) -> Option<String> {
        let path = self.websocket.as_deref()?;
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        Some(format!(
            "{}://{host}:{}{path}",
            self.websocket_scheme(),
            self.port
        ))
    }

    fn websocket_scheme(&self) -> &'static str {
        if self.tls == Some(true) {
            "wss"
        } else {
            "ws"
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("server", &self.label())
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("websocket", &self.websocket.is_some())
            .finish()
    }
}

/// The order connection attempts go through the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerOrder {
    #[default]
    InOrder,
    /// Shuffled once per connection, so that a fleet spreads over a cluster.
    Random,
}

/// The `servers` option: a non-empty list of servers.
pub(super) fn servers(path: &str, value: &Value) -> Result<Vec<Server>, ConfigError> {
    let items = match value {
        Value::List(items) => items.as_slice(),
        // PHP's [] reads as an empty map.
        Value::Map(entries) if entries.is_empty() => &[],
        _ => return Err(invalid(
            path,
            "must be a list of servers (\"host:port\" or mqtt://, mqtts://, ws:// or wss:// URLs)",
            value,
        )),
    };
    if items.is_empty() {
        return Err(invalid(
            path,
            "must name at least one server".to_owned(),
            value,
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| server(&format!("{path}.{index}"), item))
        .collect()
}

/// One server: `host`, `host:port`, `[v6]:port`, or a URL.
pub(super) fn server(path: &str, value: &Value) -> Result<Server, ConfigError> {
    let Value::Str(text) = value else {
        return Err(invalid(
            path,
            "must be \"host:port\" or an mqtt://, mqtts://, ws:// or wss:// URL",
            value,
        ));
    };
    // Credentials are never quoted back: the value is described by its shape only.
    let bad = |rule: &str| ConfigError::Invalid {
        path: path.to_owned(),
        rule: rule.to_owned(),
        got: describe_server(text),
    };
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, text.as_str()),
    };
    let (tls, default_port, websocket) = match scheme.as_deref() {
        None => (None, 1883, false),
        Some("mqtt" | "tcp") => (Some(false), 1883, false),
        Some("mqtts" | "ssl") => (Some(true), 8883, false),
        Some("ws") => (Some(false), 80, true),
        Some("wss") => (Some(true), 443, true),
        Some(_) => {
            return Err(bad(
                "has an unknown scheme: use mqtt://, mqtts://, ws:// or wss://",
            ))
        }
    };
    let (rest, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if path.contains('#') {
        return Err(bad("must not have a fragment (#)"));
    }
    let websocket = match (websocket, path) {
        (false, path) if path.trim_end_matches('/').is_empty() => None,
        (false, _) => return Err(bad(
            "must not have a path or query (mqtt://host:port); only ws:// and wss:// URLs have one",
        )),
        (true, "") => Some(WEBSOCKET_PATH.to_owned()),
        (true, path) if path.starts_with('?') => Some(format!("{WEBSOCKET_PATH}{path}")),
        (true, path) => Some(path.to_owned()),
    };
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((credentials, address)) if scheme.is_some() => (Some(credentials), address),
        Some(_) => {
            return Err(bad(
                "has credentials without a scheme: use mqtt://user:password@host",
            ))
        }
        None => (None, rest),
    };
    let (host, port) =
        split_host_port(address).ok_or_else(|| bad("must be host, host:port or [IPv6]:port"))?;
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let port = match port {
        None => default_port,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| bad("has a port that is not a number from 1 to 65535"))?,
    };
    let (username, password) = match credentials {
        None => (None, None),
        Some(credentials) => {
            let (user, password) = match credentials.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (credentials, None),
            };
            let user = String::from_utf8(percent_decode(user))
                .map_err(|_| bad("has a user name that is not UTF-8"))?;
            if user.is_empty() {
                return Err(bad("has a password without a user name"));
            }
            (Some(user), password.map(percent_decode))
        }
    };
    Ok(Server {
        host: host.to_owned(),
        port,
        tls,
        username,
        password,
        websocket,
    })
}

/// The server an MQTT 5 Server Reference names (its first entry, as in
/// `host`, `host:port` or `[v6]:port`), reached the way `current` is: the same
/// TLS, WebSocket path and credentials, and its port when the reference names
/// none. None when the reference names no usable server.
pub fn server_reference(reference: &str, current: &Server) -> Option<Server> {
    let first = reference.split_whitespace().next()?;
    if first.contains("://") {
        return None;
    }
    let (host, port) = split_host_port(first)?;
    let port = match port {
        None => current.port,
        Some(port) => port.parse::<u16>().ok().filter(|port| *port != 0)?,
    };
    (!host.is_empty()).then(|| Server {
        host: host.to_owned(),
        port,
        ..current.clone()
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(address: &str) -> Option<(&str, Option<&str>)> {
    if let Some(v6) = address.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        return match rest {
            "" => Some((host, None)),
            rest => Some((host, Some(rest.strip_prefix(':')?))),
        };
    }
    match address.split_once(':') {
        Some((host, port)) if !port.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((address, None)),
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

/// The value as a message may show it: the credentials replaced.
fn describe_server(text: &str) -> String {
    // A WebSocket URL's query may carry a signature.
    let text = match text.split_once('?') {
        Some((before, _)) => format!("{before}?***"),
        None => text.to_owned(),
    };
    let shown = match (text.split_once("://"), text.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &text[at + 1..]),
        _ => text.clone(),
    };
    describe(&Value::Str(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Server, String> {
        server("servers.0", &Value::Str(text.to_owned())).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_hosts_ports_schemes_and_credentials() {
        let plain = parse("broker-1.local:1884").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls),
            ("broker-1.local", 1884, None)
        );
        assert_eq!(parse("broker").unwrap().port, 1883);
        let secure = parse("mqtts://app:s%40cret:x@broker.example.com").unwrap();
        assert_eq!((secure.port, secure.tls), (8883, Some(true)));
        assert_eq!(secure.username.as_deref(), Some("app"));
        assert_eq!(secure.password.as_deref(), Some(&b"s@cret:x"[..]));
        assert_eq!(parse("mqtt://[::1]:1999/").unwrap().label(), "[::1]:1999");
        assert_eq!(parse("MQTT://h").unwrap().tls, Some(false));
        assert!(!format!("{secure:?}").contains("cret"), "{secure:?}");
    }

    #[test]
    fn a_server_reference_names_a_server_reached_like_the_current_one() {
        let current = parse("wss://app:pw@old:8443/mqtt").unwrap();
        let moved = server_reference("new.example.com:9443 other:1", &current).unwrap();
        assert_eq!((moved.host.as_str(), moved.port), ("new.example.com", 9443));
        assert_eq!(
            moved.websocket_url().as_deref(),
            Some("wss://new.example.com:9443/mqtt")
        );
        assert_eq!(moved.username.as_deref(), Some("app"));
        assert_eq!(
            server_reference("[::1]", &current).unwrap().label(),
            "wss://[::1]:8443/mqtt"
        );
        for unusable in ["", "  ", "h:0", "h:x", ":1", "mqtt://h", "a:b:c"] {
            assert!(server_reference(unusable, &current).is_none(), "{unusable}");
        }
    }

    #[test]
    fn websocket_urls_keep_their_path_and_query() {
        let plain = parse("ws://broker:9001").unwrap();
        assert_eq!((plain.port, plain.tls), (9001, Some(false)));
        assert_eq!(
            plain.websocket_url().as_deref(),
            Some("ws://broker:9001/mqtt")
        );
        assert_eq!(plain.label(), "ws://broker:9001/mqtt");
        let secure = parse("WSS://app:pw@[::1]/ws?X-Amz-Signature=abc").unwrap();
        assert_eq!((secure.port, secure.tls), (443, Some(true)));
        assert_eq!(
            secure.websocket_url().as_deref(),
            Some("wss://[::1]:443/ws?X-Amz-Signature=abc")
        );
        assert_eq!(secure.label(), "wss://[::1]:443/ws");
        assert_eq!(secure.username.as_deref(), Some("app"));
        assert_eq!(parse("ws://h/").unwrap().websocket.as_deref(), Some("/"));
        assert_eq!(
            parse("ws://h?a=b").unwrap().websocket.as_deref(),
            Some("/mqtt?a=b")
        );
        assert_eq!(parse("mqtt://h").unwrap().websocket_url(), None);
        let error = parse("ws://h:0/mqtt?X-Amz-Signature=abc").unwrap_err();
        assert!(!error.contains("abc"), "{error}");
    }

    #[test]
    fn refuses_what_it_cannot_use_without_showing_the_password() {
        for (text, rule) in [
            ("http://h", "unknown scheme"),
            ("ws://h/mqtt#top", "fragment"),
            (":1883", "no host"),
            ("mqtt://", "no host"),
            ("h:0", "port"),
            ("h:65536", "port"),
            ("h:x", "port"),
            ("mqtt://h/path", "path"),
            ("mqtts://h?x=1", "only ws:// and wss://"),
            ("u:p@h", "credentials without a scheme"),
            ("mqtt://:pw@h", "password without a user name"),
            ("a:b:c", "host:port"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(rule), "{text}: {error}");
            assert!(error.starts_with("option \"servers.0\""), "{error}");
        }
        let error = parse("mqtt://app:topsecret@h:0").unwrap_err();
        assert!(!error.contains("topsecret"), "{error}");
        assert!(error.contains("mqtt://***@h:0"), "{error}");
        assert!(servers("servers", &Value::List(vec![]))
            .unwrap_err()
            .to_string()
            .contains("at least one"));
        assert!(servers("servers", &Value::Str("h".into())).is_err());
        assert!(servers("servers", &Value::List(vec![Value::Int(1)]))
            .unwrap_err()
            .to_string()
            .starts_with("option \"servers.0\""));
    }
}
