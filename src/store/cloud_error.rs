//! Turns an `object_store` error into one line a user can act on: what went wrong in the
//! service's own words (status, error code and message from the XML or JSON body, or the
//! transport error), how often the request was retried, and what kind of failure it is, so that
//! the store can say what to do (create the bucket or container, check the credentials, check
//! the endpoint). S3, Google Cloud Storage and Azure each have their own error codes; the kinds
//! are the same for all three.

use std::error::Error;

/// What kind of failure an error is, for the advice given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The object does not exist (the bucket does).
    NotFound,
    /// The bucket (S3, GCS) or container (Azure) does not exist.
    MissingBucket,
    Credentials,
    Unreachable,
    /// No credentials could be had: no variable gave any, and fetching a token (from the
    /// instance metadata service or an identity provider) failed.
    NoCredentials,
    /// The client refused a plain `http://` URL (e.g. an endpoint from a key file).
    PlainHttp,
    Other,
}

/// An error taken apart.
#[derive(Debug)]
pub(crate) struct Explained {
    pub kind: Kind,
    /// The service's status, code and message (`404 Not Found NoSuchBucket: The specified bucket
    /// does not exist`), or the innermost transport errors (`tcp connect error: Connection
    /// refused`).
    pub detail: String,
    /// ` after 3 retries`, when the request was retried.
    pub retries: String,
}

pub(crate) fn explain(error: &object_store::Error) -> Explained {
    let texts = chain(error);
    let all = texts.join(": ");
    // XML bodies (S3, GCS's XML API, Azure) carry `<Code>`; GCS's JSON API a `"reason"`.
    let code = between(&all, "<Code>", "</Code>")
        .or_else(|| between(&all, "\"reason\": \"", "\""))
        .or_else(|| between(&all, "\"reason\":\"", "\""));
    let kind = match code.as_deref() {
        Some(
            // S3 and GCS
            "NoSuchBucket"
            // Azure
            | "ContainerNotFound",
        ) => Kind::MissingBucket,
        Some(
            // S3
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "AccessDenied"
            | "ExpiredToken"
            | "InvalidToken"
            // GCS
            | "InvalidSecurity"
            | "AuthenticationRequired"
            | "UserProjectMissing"
            | "forbidden"
            | "required"
            // Azure
            | "AuthenticationFailed"
            | "AuthorizationFailure"
            | "AuthorizationPermissionMismatch"
            | "InvalidAuthenticationInfo"
            | "NoAuthenticationInformation",
        ) => Kind::Credentials,
        // GCS's JSON API answers a missing bucket with `notFound` and this message.
        _ if all.contains("The specified bucket does not exist") => Kind::MissingBucket,
        _ => match error {
            object_store::Error::NotFound { .. } => Kind::NotFound,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Kind::Credentials,
            _ if all.contains("URL scheme is not allowed") => Kind::PlainHttp,
            // Before `is_unreachable`: a metadata service that cannot be reached means no
            // credentials, not an unreachable bucket.
            _ if ["token request", "token response", "get-access-token"]
                .iter()
                .any(|t| all.contains(t)) =>
            {
                Kind::NoCredentials
            }
            _ if is_unreachable(error) => Kind::Unreachable,
            _ => Kind::Other,
        },
    };
    let detail = match code {
        Some(code) => {
            let status = between(&all, "status code: ", ":").unwrap_or_default();
            let message = between(&all, "<Message>", "</Message>")
                .or_else(|| between(&all, "\"message\": \"", "\""))
                .or_else(|| between(&all, "\"message\":\"", "\""))
                .unwrap_or_default();
            let message = message
                .trim_start_matches("<![CDATA[")
                .trim_end_matches("]]>");
            // Azure appends request id and time on lines of their own.
            let message = message.lines().next().unwrap_or_default();
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

/// `text` with every run of white space (newlines included) as one space.
pub(crate) fn one_line(text: &str) -> String {
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

    fn kind_of(body: &str) -> Kind {
        let error = object_store::Error::Generic {
            store: "test",
            source: body.to_string().into(),
        };
        explain(&error).kind
    }

    #[test]
    fn each_providers_codes_give_the_same_kinds() {
        let xml = |code: &str| format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
        for code in ["NoSuchBucket", "ContainerNotFound"] {
            assert_eq!(kind_of(&xml(code)), Kind::MissingBucket, "{code}");
        }
        for code in [
            "SignatureDoesNotMatch",
            "AuthenticationFailed",
            "AccessDenied",
        ] {
            assert_eq!(kind_of(&xml(code)), Kind::Credentials, "{code}");
        }
        let gcs = r#"{"error": {"code": 404, "message": "The specified bucket does not exist.",
                     "errors": [{"reason": "notFound"}]}}"#;
        assert_eq!(kind_of(gcs), Kind::MissingBucket);
        assert_eq!(
            kind_of(r#"{"errors": [{"reason": "forbidden"}]}"#),
            Kind::Credentials
        );
        assert_eq!(kind_of("something else"), Kind::Other);
        assert_eq!(
            kind_of("Error performing token request: tcp connect error: Connection refused"),
            Kind::NoCredentials
        );
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
