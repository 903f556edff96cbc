//! The address the server is reached at from outside, as configured (`public_url`), and
//! the host-name parsing the DNS-rebinding guard (`host_check.rs`) shares with it.

use axum::http::Uri;

/// The address the server is reached at from outside (`public_url`, `SEXTANT_PUBLIC_URL`),
/// e.g. `https://traces.example.com`: its host is accepted in open local mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl {
    url: String,
    /// Lowercase, without port or trailing dot.
    host: String,
}

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.url)
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<PublicUrl, String> {
        let invalid = |why: &str| {
            format!("invalid public_url {text:?}: {why} (expected e.g. https://traces.example.com)")
        };
        let uri: Uri = text.parse().map_err(|_| invalid("not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid("the scheme must be http or https"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user names are not allowed"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid("Sextant is served at the root: no path or query"));
        }
        let host = host_name(authority.as_str()).ok_or_else(|| invalid("no host"))?;
        Ok(PublicUrl {
            url: text.trim_end_matches('/').to_string(),
            host,
        })
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;

    fn try_from(text: String) -> Result<PublicUrl, String> {
        text.parse()
    }
}

/// The host of a `Host` header or URI authority (`name`, `name:port`, `[v6]:port`),
/// lowercase, without port or trailing dot; `None` when it is not of that shape.
pub(crate) fn host_name(authority: &str) -> Option<String> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        format!("[{inside}]")
    } else {
        match authority.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name.to_string(),
            Some(_) => return None,
            None => authority.to_string(),
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let well_formed = !host.is_empty()
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._[]:".contains(&byte));
    well_formed.then_some(host)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|byte| byte.is_ascii_digit())
}
