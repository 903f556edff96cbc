//! The credential formats Sextant recognises without configuration.
//!
//! Each detector names a kind (it becomes the `[REDACTED:<kind>]` marker and the secret's
//! kind in `agent_actions`), a regular expression, and which part of a match is the secret:
//! the whole match for self-describing formats (a `ghp_…` token is a secret wherever it
//! stands), or one capture group where the surrounding text is what makes it one
//! (`DB_PASSWORD=…`, `Authorization: Bearer …`, the password in `postgres://user:pw@host`).
//!
//! Order matters: specific formats come before generic ones, and no secret pattern can
//! match a marker (`[` never starts a captured value), so redacting twice changes nothing.

/// One built-in detector.
pub struct Detector {
    pub kind: &'static str,
    pub pattern: &'static str,
    /// The capture group holding the secret; 0 for the whole match.
    pub group: usize,
    /// The match starts inside a key: it counts only when the key starts a line or a JSON
    /// member ([`starts_a_line_key`]).
    pub after_line_key: bool,
}

/// Whether the text before `start` is the beginning of a `KEY=`/`key:` line: the key's
/// other characters, an optional quote (maybe escaped) and `export `, blanks, then the start
/// of the text, a newline (real or escaped as `\n`/`\r`), `{` or `,`.
pub fn starts_a_line_key(text: &str, start: usize) -> bool {
    let before = &text.as_bytes()[..start];
    let key_char = |b: &&u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let blank = |b: &&u8| matches!(b, b' ' | b'\t');
    let skip_back = |end: usize, skipped: &dyn Fn(&&u8) -> bool| {
        end - before[..end].iter().rev().take_while(skipped).count()
    };
    let mut rest = skip_back(start, &key_char);
    if rest > 0 && before[rest - 1] == b'\\' && matches!(before.get(rest), Some(b'n' | b'r')) {
        // `…\nKEY=`: the escaped newline's letter was read as part of the key.
        return true;
    }
    if rest > 0 && matches!(before[rest - 1], b'"' | b'\'') {
        rest -= 1;
        if rest > 0 && before[rest - 1] == b'\\' {
            rest -= 1;
        }
    }
    rest = skip_back(rest, &blank);
    if before[..rest].ends_with(b"export") {
        rest = skip_back(rest - "export".len(), &blank);
    }
    rest == 0
        || matches!(before[rest - 1], b'\n' | b'\r' | b'{' | b',')
        || (rest >= 2 && before[rest - 2] == b'\\' && matches!(before[rest - 1], b'n' | b'r'))
}

/// The built-in detectors, in the order they are applied.
pub const BUILT_IN: &[Detector] = &[
    Detector {
        kind: "private_key",
        // A PEM private key block, or its unterminated start (a truncated tool output).
        pattern: r"-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\z)",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "aws_access_key",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16}\b",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "anthropic_key",
        pattern: r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "openai_key",
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "slack_token",
        pattern: r"\bxox[abposre]-[A-Za-z0-9\-]{10,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "slack_webhook",
        pattern: r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{8,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "google_api_key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "stripe_key",
        pattern: r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "sextant_key",
        pattern: r"\bsxt_[0-9a-f]{12}_[0-9A-Za-z]{32,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        group: 0,
        after_line_key: false,
    },
    Detector {
        kind: "bearer_token",
        pattern: r"\b(?:Bearer|bearer|BEARER)[ \t]+([A-Za-z0-9._~+/=\-]{16,})",
        group: 1,
        after_line_key: false,
    },
    Detector {
        kind: "url_password",
        // `scheme://user:password@host`: the password only (the scheme need not be read).
        pattern: r"://[^/\s:@\x22']{1,128}:([^/\s@\x22'\[]{1,256})@",
        group: 1,
        after_line_key: false,
    },
    Detector {
        kind: "secret_assignment",
        // `.env`, YAML and JSON style: a key ending in a secret's name, and its value up to
        // the end of the line, a quote, `\`, `,` or `}`. `max_tokens: 10` and a call such
        // as `token = next_token()` are not secrets. The match starts at the name (spelled in
        // its three cases, so the regex engine looks for the names as literals first, fast
        // on long text); `after_line_key` then checks that the rest of the key starts a line
        // (also after an escaped `\n`, as in a JSON-encoded file) or a JSON member.
        pattern: r#"(?mR)(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?|PASSW(?:OR)?D|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|Passw(?:or)?d|Secret|Token|ApiKey|AccessKey|PrivateKey|Credentials?)(?:\\?["'])?[ \t]*[=:][ \t]*(?:\\?["'])?([^\s"'\\\[,}()][^\s"'\\,}()]{2,})[ \t]*(?:["'\\,}#]|$)"#,
        group: 1,
        after_line_key: true,
    },
];
