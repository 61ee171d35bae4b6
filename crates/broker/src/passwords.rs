//! Who may connect: user names with their passwords, from the options
//! (plain) or from a password file in the format `mosquitto_passwd` writes.
//!
//! A mosquitto_passwd line is `user:$7$<iterations>$<salt>$<hash>`
//! (PBKDF2-HMAC-SHA512, Mosquitto 2.0) or `user:$6$<salt>$<hash>`
//! (SHA-512 of password and salt, Mosquitto 1.x), salt and hash in base64.
//! Other formats (argon2id, from Mosquitto 2.1) are refused with the line's
//! number rather than making the user unable to log in without a word.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::{digest, pbkdf2};

#[derive(Clone, Default)]
pub struct Passwords {
    users: HashMap<String, Secret>,
}

#[derive(Clone)]
enum Secret {
    Plain(Vec<u8>),
    Sha512 {
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2Sha512 {
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

/// Names the users, never their passwords or hashes.
impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&String> = self.users.keys().collect();
        users.sort();
        f.debug_struct("Passwords").field("users", &users).finish()
    }
}

impl Passwords {
    pub fn insert_plain(&mut self, user: &str, password: &str) {
        self.users
            .insert(user.to_owned(), Secret::Plain(password.as_bytes().to_vec()));
    }

    /// The options' users win over the file's for the same name.
    pub fn merged_with(mut self, other: Passwords) -> Passwords {
        for (user, secret) in other.users {
            self.users.entry(user).or_insert(secret);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// `None`: no such user.
    pub fn verify(&self, user: &str, password: &[u8]) -> Option<bool> {
        self.users.get(user).map(|secret| secret.verify(password))
    }

    /// The problem names the line, never its content past the user name.
    pub fn from_file(file: &Path) -> Result<Passwords, String> {
        let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
        Passwords::parse(&text)
    }

    fn parse(text: &str) -> Result<Passwords, String> {
        let mut passwords = Passwords::default();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .filter(|(user, _)| !user.is_empty())
                .ok_or_else(|| format!("line {number} is not \"user:hash\""))?;
            let secret = Secret::parse(hash)
                .map_err(|problem| format!("line {number} (user \"{user}\") {problem}"))?;
            passwords.users.insert(user.to_owned(), secret);
        }
        Ok(passwords)
    }
}

impl Secret {
    fn parse(hash: &str) -> Result<Secret, String> {
        let fields: Vec<&str> = hash.split('$').collect();
        let decode = |field: &str, what: &str| {
            STANDARD
                .decode(field)
                .map_err(|_| format!("has a {what} that is not base64"))
        };
        match fields.as_slice() {
            ["", "6", salt, digest] => Ok(Secret::Sha512 {
                salt: decode(salt, "salt")?,
                hash: decode(digest, "hash")?,
            }),
            ["", "7", iterations, salt, digest] => Ok(Secret::Pbkdf2Sha512 {
                iterations: iterations
                    .parse::<u32>()
                    .ok()
                    .and_then(NonZeroU32::new)
                    .ok_or("has an iteration count that is not a positive number")?,
                salt: decode(salt, "salt")?,
                hash: decode(digest, "hash")?,
            }),
            ["", kind, ..] => Err(format!(
                "has a hash of type ${kind}$, which is not supported (only $6$ and $7$, as mosquitto_passwd 2.0 writes)"
            )),
            _ => Err("has no mosquitto_passwd hash (plain text passwords are not read from a file)".to_owned()),
        }
    }

    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Secret::Plain(expected) => constant_time_eq(expected, password),
            Secret::Sha512 { salt, hash } => {
                let mut context = digest::Context::new(&digest::SHA512);
                context.update(password);
                context.update(salt);
                constant_time_eq(context.finish().as_ref(), hash)
            }
            Secret::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA512,
                *iterations,
                salt,
                password,
                hash,
            )
            .is_ok(),
        }
    }
}

/// Compares every byte whatever the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbkdf2_line(user: &str, password: &str, iterations: u32, salt: &[u8]) -> String {
        let mut hash = [0u8; 64];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA512,
            NonZeroU32::new(iterations).unwrap(),
            salt,
            password.as_bytes(),
            &mut hash,
        );
        format!(
            "{user}:$7${iterations}${}${}",
            STANDARD.encode(salt),
            STANDARD.encode(hash)
        )
    }

    #[test]
    fn a_pbkdf2_line_verifies_its_password_only() {
        let file = format!("{}\n", pbkdf2_line("app", "secret", 101, b"0123456789ab"));
        let passwords = Passwords::parse(&file).unwrap();
        assert_eq!(passwords.verify("app", b"secret"), Some(true));
        assert_eq!(passwords.verify("app", b"Secret"), Some(false));
        assert_eq!(passwords.verify("other", b"secret"), None);
    }

    #[test]
    fn a_salted_sha512_line_verifies() {
        let salt = b"salty";
        let mut context = digest::Context::new(&digest::SHA512);
        context.update(b"pw");
        context.update(salt);
        let line = format!(
            "old:$6${}${}",
            STANDARD.encode(salt),
            STANDARD.encode(context.finish())
        );
        let passwords = Passwords::parse(&line).unwrap();
        assert_eq!(passwords.verify("old", b"pw"), Some(true));
        assert_eq!(passwords.verify("old", b"px"), Some(false));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let file = format!("# users\n\n{}\r\n", pbkdf2_line("a", "b", 2, b"s"));
        assert_eq!(
            Passwords::parse(&file).unwrap().verify("a", b"b"),
            Some(true)
        );
    }

    #[test]
    fn unsupported_and_broken_lines_are_named_without_their_hash() {
        let argon = "u:$argon2id$v=19$m=65536$c2FsdA$aGFzaA";
        assert_eq!(
            Passwords::parse(argon).unwrap_err(),
            "line 1 (user \"u\") has a hash of type $argon2id$, which is not supported (only $6$ and $7$, as mosquitto_passwd 2.0 writes)"
        );
        assert_eq!(
            Passwords::parse("# x\nnocolon").unwrap_err(),
            "line 2 is not \"user:hash\""
        );
        assert_eq!(
            Passwords::parse("u:plaintext").unwrap_err(),
            "line 1 (user \"u\") has no mosquitto_passwd hash (plain text passwords are not read from a file)"
        );
        assert_eq!(
            Passwords::parse("u:$7$0$c2FsdA==$aGFzaA==").unwrap_err(),
            "line 1 (user \"u\") has an iteration count that is not a positive number"
        );
    }

    #[test]
    fn debug_shows_user_names_only() {
        let mut passwords = Passwords::default();
        passwords.insert_plain("app", "hunter2");
        let shown = format!("{passwords:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app"), "{shown}");
    }
}
