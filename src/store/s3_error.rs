//! Turns an `object_store` error from S3 into one line a user can act on: what went wrong in
//! S3's own words (status, error code and message from the XML body, or the transport error),
//! how often the request was retried, and what to do (create the bucket, check the credentials,
//! check the endpoint).

use std::error::Error;

/// What kind of failure an error is, for the advice given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The object does not exist (the bucket does).
    NotFound,
    MissingBucket,
    Credentials,
    Unreachable,
    Other,
}

/// An error taken apart.
#[derive(Debug)]
pub(crate) struct Explained {
    pub kind: Kind,
    /// S3's status, code and message (`404 Not Found NoSuchBucket: The specified bucket does not
    /// exist`), or the innermost transport errors (`tcp connect error: Connection refused`).
    pub detail: String,
    /// ` after 3 retries`, when the request was retried.
    pub retries: String,
}

pub(crate) fn explain(error: &object_store::Error) -> Explained {
    let texts = chain(error);
    let all = texts.join(": ");
    let code = between(&all, "<Code>", "</Code>");
    let kind = match code.as_deref() {
        Some("NoSuchBucket") => Kind::MissingBucket,
        Some(
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "AccessDenied"
            | "ExpiredToken"
            | "InvalidToken",
        ) => Kind::Credentials,
        _ => match error {
            object_store::Error::NotFound { .. } => Kind::NotFound,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Kind::Credentials,
            _ if is_unreachable(error) => Kind::Unreachable,
            _ => Kind::Other,
        },
    };
    let detail = match code {
        Some(code) => {
            let status = between(&all, "status code: ", ":").unwrap_or_default();
            let message = between(&all, "<Message>", "</Message>").unwrap_or_default();
            let message = message
                .trim_start_matches("<![CDATA[")
                .trim_end_matches("]]>");
            format!("{status} {code}: {message}")
        }
        // The innermost causes say what happened (`tcp connect error: Connection refused`); the
        // outer ones only that a request failed.
        None => {
            let keep = texts.len().min(2);
            texts[texts.len() - keep..].join(": ")
        }
    };
    let retries = match between(&all, "after ", " retries") {
        Some(n) if n.chars().all(|c| c.is_ascii_digit()) => format!(" after {n} retries"),
        _ => String::new(),
    };
    Explained {
        kind,
        detail: one_line(&detail),
        retries,
    }
}

/// The error and each cause's text, without causes whose text their parent already shows.
fn chain(error: &dyn Error) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !texts.last().is_some_and(|t| t.contains(&text)) {
            texts.push(text);
        }
        current = e.source();
    }
    texts
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].trim().to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A connection that could not be made or broke, as opposed to an answer from the server.
fn is_unreachable(error: &object_store::Error) -> bool {
    let mut current: Option<&dyn Error> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotConnected
                    | TimedOut
                    | BrokenPipe
                    | HostUnreachable
                    | NetworkUnreachable
                    | UnexpectedEof
            ) {
                return true;
            }
        }
        let text = e.to_string();
        if ["connect", "dns error", "connection closed", "timed out"]
            .iter()
            .any(|t| text.contains(t))
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields_are_found() {
        let body = "status code: 404 Not Found: <Error><Code>NoSuchBucket</Code>\
                    <Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            between(body, "<Code>", "</Code>").as_deref(),
            Some("NoSuchBucket")
        );
        assert_eq!(
            between(body, "status code: ", ":").as_deref(),
            Some("404 Not Found")
        );
        assert_eq!(between(body, "<Nope>", "</Nope>"), None);
    }

    #[test]
    fn a_plain_not_found_is_not_a_missing_bucket() {
        let error = object_store::Error::NotFound {
            path: "x".into(),
            source: "404".into(),
        };
        assert_eq!(explain(&error).kind, Kind::NotFound);
    }
}
