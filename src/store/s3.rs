//! A [`Store`] on S3 or an S3-compatible server (`--repo s3://bucket/prefix`), through the
//! `object_store` crate.
//!
//! The [`Store`] trait is synchronous, so the store owns a small tokio runtime and blocks on each
//! request; several threads may call it at once (the backup writer stores packs from
//! [`Store::upload_concurrency`] threads). Every request is retried by `object_store` on
//! connection errors, 5xx, 429 and timeouts, with exponential backoff, a bounded number of times
//! within a bounded time ([`S3Options`]); the final error says how often it was tried and why it
//! failed. Errors are turned into messages that name the repository URL and what to do
//! (missing bucket, refused credentials, unreachable endpoint).
//!
//! S3 gives what the repository needs: a `PUT` of a whole object is atomic (readers see the old
//! object, none, or the whole new one), and reads and listings are strongly consistent after a
//! write completes, which the lock protocol relies on (docs/FORMAT.md, "Locks").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore as _, ObjectStoreExt as _, PutPayload, RetryConfig,
};

use super::s3_error::{explain, Kind};
use super::{validate_name, ObjectInfo, Store, StoreError};

/// Parallel uploads (whole pack files) when `STRATA_S3_UPLOADS` is not set.
pub const DEFAULT_UPLOADS: usize = 4;
/// Retries of a failed request when `STRATA_S3_RETRIES` is not set.
pub const DEFAULT_RETRIES: usize = 6;
/// Longest time spent retrying one request when `STRATA_S3_RETRY_SECONDS` is not set.
pub const DEFAULT_RETRY_SECONDS: u64 = 60;
/// One request (e.g. a 16 MiB pack upload) may take this long before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach an S3 repository: the `AWS_*` settings `object_store` understands (credentials,
/// region, endpoint, `AWS_ALLOW_HTTP`, …) and Strata's own upload and retry settings.
#[derive(Clone, Default)]
pub struct S3Options {
    /// `AWS_*` settings, by lower-case name (`aws_access_key_id`, `aws_endpoint_url`, …).
    aws: BTreeMap<String, String>,
    /// Parallel uploads.
    pub uploads: Option<usize>,
    /// Retries per request.
    pub retries: Option<usize>,
    /// Time limit for retrying one request.
    pub retry_seconds: Option<u64>,
}

impl std::fmt::Debug for S3Options {
    /// Credentials stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("settings", &self.aws.keys().collect::<Vec<_>>())
            .field("uploads", &self.uploads)
            .field("retries", &self.retries)
            .field("retry_seconds", &self.retry_seconds)
            .finish()
    }
}

impl S3Options {
    /// Reads `AWS_*`, `STRATA_S3_UPLOADS`, `STRATA_S3_RETRIES` and `STRATA_S3_RETRY_SECONDS`
    /// from the environment.
    pub fn from_env() -> Result<S3Options, String> {
        S3Options::from_pairs(std::env::vars())
    }

    /// The same from explicit `(NAME, value)` pairs; names that are not `AWS_*` or one of
    /// Strata's are ignored.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<S3Options, String> {
        let mut options = S3Options::default();
        for (key, value) in pairs {
            let key = key.as_ref();
            let value = value.into();
            match key {
                "STRATA_S3_UPLOADS" => options.uploads = Some(positive(key, &value)?),
                "STRATA_S3_RETRIES" => options.retries = Some(number(key, &value)?),
                "STRATA_S3_RETRY_SECONDS" => options.retry_seconds = Some(number(key, &value)?),
                // An empty variable counts as unset, as in most tools.
                _ if key.starts_with("AWS_") && !value.is_empty() => {
                    options.aws.insert(key.to_ascii_lowercase(), value);
                }
                _ => {}
            }
        }
        Ok(options)
    }

    fn uploads(&self) -> usize {
        self.uploads.unwrap_or(DEFAULT_UPLOADS)
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: self.retries.unwrap_or(DEFAULT_RETRIES),
            retry_timeout: Duration::from_secs(self.retry_seconds.unwrap_or(DEFAULT_RETRY_SECONDS)),
        }
    }

    /// The endpoint requests go to, for messages.
    fn endpoint(&self) -> Option<&str> {
        ["aws_endpoint_url_s3", "aws_endpoint_url", "aws_endpoint"]
            .iter()
            .find_map(|key| self.aws.get(*key))
            .map(String::as_str)
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{key}={value:?} is not a whole number"))
}

fn positive(key: &str, value: &str) -> Result<usize, String> {
    match number(key, value)? {
        0 => Err(format!("{key} must be at least 1")),
        n => Ok(n),
    }
}

/// A repository in an S3 bucket, under an optional key prefix.
pub struct S3Store {
    /// `s3://bucket/prefix`, as given (for messages).
    url: String,
    bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// Where requests go (`AWS_ENDPOINT_URL`), or `None` for AWS itself.
    endpoint: Option<String>,
    client: Arc<dyn object_store::ObjectStore>,
    runtime: tokio::runtime::Runtime,
    uploads: usize,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl S3Store {
    /// Opens `s3://bucket[/prefix]`. Nothing is sent yet: a missing bucket or refused credentials
    /// show at the first request, with a message saying so.
    pub fn open(url: &str, options: &S3Options) -> Result<S3Store, StoreError> {
        let bad = |reason: String| StoreError::BadLocation {
            location: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("an S3 repository URL starts with s3://".to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad(
                "no bucket name; use s3://BUCKET or s3://BUCKET/PREFIX".to_string()
            ));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            validate_name(&prefix).map_err(|_| {
                bad(format!(
                    "invalid key prefix {prefix:?} (empty, `.` or `..` parts are not allowed)"
                ))
            })?;
        }
        if let Some(endpoint) = options.endpoint() {
            // The values object_store takes for true.
            let allowed = options
                .aws
                .get("aws_allow_http")
                .map(|v| v.to_ascii_lowercase());
            let allowed = matches!(allowed.as_deref(), Some("1" | "true" | "on" | "yes" | "y"));
            if endpoint.starts_with("http://") && !allowed {
                return Err(bad(format!(
                    "the endpoint {endpoint} is plain HTTP; set AWS_ALLOW_HTTP=true to use it"
                )));
            }
        }
        let mut builder = AmazonS3Builder::new()
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT),
            )
            .with_region("us-east-1");
        for (key, value) in &options.aws {
            // Settings object_store does not know (e.g. AWS_PROFILE) are for other tools.
            if let Ok(key) = key.parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        let client = builder
            .with_bucket_name(bucket)
            .with_retry(options.retry())
            .build()
            .map_err(|e| bad(format!("cannot configure the S3 client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-s3")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the S3 client's threads: {e}")))?;
        Ok(S3Store {
            url: url.to_string(),
            bucket: bucket.to_string(),
            prefix,
            endpoint: options.endpoint().map(str::to_string),
            client: Arc::new(client),
            runtime,
            uploads: options.uploads(),
        })
    }

    /// The key of an object name.
    fn path(&self, name: &str) -> Result<Path, StoreError> {
        validate_name(name)?;
        Ok(self.key(name))
    }

    fn key(&self, name: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        }
    }

    /// The object name of a key under the prefix.
    fn name_of(&self, key: &Path) -> Option<String> {
        let key = key.as_ref();
        if self.prefix.is_empty() {
            return Some(key.to_string());
        }
        // Compare with the prefix as object_store encodes it in keys.
        let prefix = Path::from(self.prefix.as_str());
        key.strip_prefix(prefix.as_ref())?
            .strip_prefix('/')
            .map(str::to_string)
    }

    /// A clear error for a failed request: what was done, to which object, why (after how many
    /// retries, in how long), and what to do.
    fn error(
        &self,
        action: &'static str,
        name: &str,
        error: object_store::Error,
        took: Duration,
    ) -> StoreError {
        let explained = explain(&error);
        let endpoint = self.endpoint.as_deref().unwrap_or("AWS S3");
        let (detail, retries) = (&explained.detail, &explained.retries);
        let reason = match explained.kind {
            Kind::NotFound => {
                return StoreError::NotFound {
                    location: self.location(),
                    name: name.to_string(),
                }
            }
            Kind::MissingBucket => format!(
                "bucket {} does not exist at {endpoint} ({detail}); create it, or check the bucket name and AWS_ENDPOINT_URL",
                self.bucket
            ),
            Kind::Credentials => format!(
                "{endpoint} refused the credentials ({detail}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and that they may read and write bucket {}",
                self.bucket
            ),
            Kind::Unreachable => format!(
                "cannot reach {endpoint}{retries} in {:.1} s ({detail}); check AWS_ENDPOINT_URL and that the server is up (STRATA_S3_RETRIES and STRATA_S3_RETRY_SECONDS set how long to retry)",
                took.as_secs_f64()
            ),
            Kind::Other => format!("{detail}{retries}"),
        };
        StoreError::Remote {
            location: self.location(),
            action,
            name: name.to_string(),
            reason,
        }
    }

    /// Runs a request; a failure becomes a clear [`StoreError`].
    fn request<T>(
        &self,
        action: &'static str,
        name: &str,
        request: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        self.runtime
            .block_on(request)
            .map_err(|e| self.error(action, name, e, started.elapsed()))
    }
}

impl Store for S3Store {
    fn location(&self) -> String {
        self.url.clone()
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name)?;
        let payload = PutPayload::from(bytes.to_vec());
        self.request("write", name, self.client.put(&path, payload))
            .map(|_| ())
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(name)?;
        let bytes = self.request("read", name, async {
            let result = self.client.get(&path).await?;
            result.bytes().await
        })?;
        Ok(bytes.to_vec())
    }

    fn get_range(&self, name: &str, offset: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.path(name)?;
        let out_of_range = |size: u64| StoreError::OutOfRange {
            location: self.location(),
            name: name.to_string(),
            size,
            offset,
            len,
        };
        let end = match offset.checked_add(len) {
            Some(end) if len > 0 => end,
            // Nothing to fetch: only the bounds need checking.
            _ => {
                let size = self.size(name)?;
                return match offset.checked_add(len) {
                    Some(end) if end <= size => Ok(Vec::new()),
                    _ => Err(out_of_range(size)),
                };
            }
        };
        match self.request("read", name, self.client.get_range(&path, offset..end)) {
            Ok(bytes) if bytes.len() as u64 == len => Ok(bytes.to_vec()),
            // A short answer: the object ends before `end`.
            Ok(_) => Err(out_of_range(self.size(name)?)),
            Err(error) if error.is_not_found() => Err(error),
            // S3 refuses a range that starts past the end (416): say so with the size.
            Err(error) => match self.size(name) {
                Ok(size) if end > size => Err(out_of_range(size)),
                _ => Err(error),
            },
        }
    }

    fn size(&self, name: &str) -> Result<u64, StoreError> {
        let path = self.path(name)?;
        Ok(self.request("stat", name, self.client.head(&path))?.size)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        // List the deepest "directory" the prefix fully names, then filter by the whole prefix.
        let dir = prefix.rfind('/').map(|slash| &prefix[..slash]);
        let listed = match (dir, self.prefix.is_empty()) {
            (Some(dir), _) => Some(self.key(dir)),
            (None, false) => Some(Path::from(self.prefix.as_str())),
            (None, true) => None,
        };
        let objects = self.request(
            "list",
            prefix,
            self.client.list(listed.as_ref()).try_collect::<Vec<_>>(),
        )?;
        let mut found: Vec<ObjectInfo> = objects
            .into_iter()
            .filter_map(|meta| {
                let name = self.name_of(&meta.location)?;
                name.starts_with(prefix).then_some(ObjectInfo {
                    name,
                    size: meta.size,
                })
            })
            .collect();
        found.sort();
        Ok(found)
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path(name)?;
        match self.request("delete", name, self.client.delete(&path)) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        match self.size(name) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn upload_concurrency(&self) -> usize {
        self.uploads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(url: &str) -> Result<S3Store, StoreError> {
        let options = S3Options::from_pairs([
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
        ])
        .unwrap();
        S3Store::open(url, &options)
    }

    #[test]
    fn urls_give_bucket_and_prefix() {
        let store = open("s3://bucket/some/prefix/").unwrap();
        assert_eq!(store.bucket, "bucket");
        assert_eq!(store.prefix, "some/prefix");
        assert_eq!(store.key("packs/ab/cd").as_ref(), "some/prefix/packs/ab/cd");
        assert_eq!(
            store.name_of(&Path::from("some/prefix/config")).as_deref(),
            Some("config")
        );
        assert_eq!(store.name_of(&Path::from("some/prefixed/config")), None);
        let root = open("s3://bucket").unwrap();
        assert_eq!(root.key("config").as_ref(), "config");
        assert_eq!(root.location(), "s3://bucket");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for (url, reason) in [
            ("s3://", "no bucket name"),
            ("s3:///prefix", "no bucket name"),
            ("s3://b/a/../c", "invalid key prefix"),
        ] {
            let err = open(url).unwrap_err().to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
        let plain_http = S3Options::from_pairs([("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
        let err = S3Store::open("s3://b", &plain_http.unwrap()).unwrap_err();
        assert!(err.to_string().contains("AWS_ALLOW_HTTP=true"), "{err}");
    }

    #[test]
    fn options_come_from_aws_and_strata_variables() {
        let options = S3Options::from_pairs([
            ("AWS_REGION", "eu-west-1"),
            ("STRATA_S3_UPLOADS", "8"),
            ("STRATA_S3_RETRIES", "0"),
            ("STRATA_S3_RETRY_SECONDS", "5"),
            ("HOME", "/root"),
        ])
        .unwrap();
        assert_eq!(
            options.aws.get("aws_region").map(String::as_str),
            Some("eu-west-1")
        );
        assert_eq!(options.aws.len(), 1);
        assert_eq!(options.uploads(), 8);
        assert_eq!(options.retry().max_retries, 0);
        assert_eq!(options.retry().retry_timeout, Duration::from_secs(5));
        for bad in [("STRATA_S3_UPLOADS", "0"), ("STRATA_S3_RETRIES", "many")] {
            assert!(S3Options::from_pairs([bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_credentials() {
        let options = S3Options::from_pairs([("AWS_SECRET_ACCESS_KEY", "very-secret")]).unwrap();
        assert!(!format!("{options:?}").contains("very-secret"));
    }
}
