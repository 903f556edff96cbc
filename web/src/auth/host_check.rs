//! The DNS-rebinding guard of open local mode: while no key exists every request is the
//! `default` project's admin, so the server answers only requests addressed to it by a
//! loopback name or address, or by the host of the configured `public_url`.
//!
//! A page of another site can make the browser send requests to `127.0.0.1:4318` by
//! pointing its own name there (DNS rebinding); the browser then treats the answers as
//! that site's. The `Host` it sends still names the other site, which is what this checks.
//! With keys, every request needs one, and the guard stands aside.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::public_url::{PublicUrl, host_name};
use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;
use crate::state::AppState;

/// True for `localhost`, an address in 127.0.0.0/8 and `[::1]`.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    if let Some(inside) = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return inside
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|address| address.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|address| address.is_loopback())
}

/// True when a request may be answered in open mode: every host it names (its `Host`
/// header, and its URI's authority in HTTP/2 or absolute form) is loopback or the public
/// URL's. A request naming no host at all is not from a browser — every browser sends
/// `Host` — so it cannot be a rebinding (an HTTP/1.0 client, an in-process `oneshot`).
fn addressed_to_us(request: &Request, public_url: Option<&PublicUrl>) -> Result<(), String> {
    let header_host = request
        .headers()
        .get(header::HOST)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let uri_host = request
        .uri()
        .authority()
        .map(|authority| authority.as_str());
    for named in [header_host, uri_host].into_iter().flatten() {
        let accepted = host_name(named).is_some_and(|host| {
            is_loopback(&host) || public_url.is_some_and(|public| public.host() == host)
        });
        if !accepted {
            return Err(named.to_string());
        }
    }
    Ok(())
}

/// Middleware over the whole HTTP router: in open local mode, 421 for a request addressed
/// to any host but a loopback one or the public URL's.
pub async fn refuse_foreign_hosts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Err(host) = addressed_to_us(&request, state.public_url.as_ref()) else {
        return next.run(request).await;
    };
    // The store lock only for a foreign host: with keys, the extractors decide.
    if !state.access.is_open_mode() {
        return next.run(request).await;
    }
    tracing::warn!(
        host,
        "open mode: refused a request addressed to another host"
    );
    let error = ApiError {
        status: StatusCode::MISDIRECTED_REQUEST,
        code: "misdirected_request",
        message: format!(
            "this Sextant has no API key yet, so it answers only requests to localhost, 127.0.0.1 or [::1], not to {host:?}; \
             to serve it under another name set public_url (SEXTANT_PUBLIC_URL), or create a key with `sextant keys create`"
        ),
    };
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        PageError(error).into_response()
    } else {
        error.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: &str, expect: Option<&str>) {
        assert_eq!(host_name(host).as_deref(), expect, "{host}");
    }

    #[test]
    fn host_names_lose_their_port_case_and_trailing_dot() {
        check("127.0.0.1:4318", Some("127.0.0.1"));
        check("LocalHost.", Some("localhost"));
        check("[::1]:4318", Some("[::1]"));
        check("[::1]", Some("[::1]"));
        check("traces.example.com", Some("traces.example.com"));
        check("evil.example@127.0.0.1", None);
        check("127.0.0.1:port", None);
        check("[::1]x", None);
        check("", None);
    }

    #[test]
    fn only_loopback_names_and_addresses_are_loopback() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "localhost.evil.example",
            "evil.example",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "[::ffff:10.0.0.1]",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_public_url_is_a_root_http_url_with_a_host() {
        let public: PublicUrl = "https://Traces.Example.com:8443/".parse().expect("valid");
        assert_eq!(public.host(), "traces.example.com");
        assert_eq!(public.as_str(), "https://Traces.Example.com:8443");
        for invalid in [
            "traces.example.com",
            "ftp://traces.example.com",
            "https://traces.example.com/sextant",
            "https://user@traces.example.com",
            "https://",
        ] {
            let error = invalid.parse::<PublicUrl>().expect_err(invalid);
            assert!(error.contains("public_url"), "{error}");
        }
    }
}
