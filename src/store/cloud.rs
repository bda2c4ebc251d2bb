//! A [`Store`] in object storage — S3 and S3-compatible servers (`s3://bucket/prefix`), Google
//! Cloud Storage (`gs://bucket/prefix`) and Azure Blob Storage (`az://container/prefix`) — through
//! the `object_store` crate's [`ObjectStore`](object_store::ObjectStore) trait, so that every
//! provider behaves the same; [`super::provider`] builds the provider's client.
//!
//! The [`Store`] trait is synchronous, so the store owns a small tokio runtime and blocks on each
//! request; several threads may call it at once (the backup writer stores packs from
//! [`Store::upload_concurrency`] threads). Every request is retried by `object_store` on
//! connection errors, 5xx, 429 and timeouts, with exponential backoff, a bounded number of times
//! within a bounded time ([`CloudOptions`]); the final error says how often it was tried and why
//! it failed. Errors are turned into messages that name the repository URL and what to do
//! (missing bucket or container, refused credentials, unreachable endpoint).
//!
//! All three give what the repository needs: a `PUT` of a whole object is atomic (readers see the
//! old object, none, or the whole new one), and reads and listings are strongly consistent after
//! a write completes, which the lock protocol relies on (docs/FORMAT.md, "Locks").

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload};

use super::cloud_error::{explain, Kind};
use super::provider::{connect, CloudOptions, CloudUrl, Provider};
use super::{validate_name, ObjectInfo, Store, StoreError};

/// A repository in a bucket (or container) of object storage, under an optional key prefix.
pub struct CloudStore {
    /// The URL as given (for messages).
    url: String,
    provider: Provider,
    bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// Where requests go, for messages (an endpoint URL or the service's name).
    endpoint: String,
    client: Arc<dyn object_store::ObjectStore>,
    runtime: tokio::runtime::Runtime,
    uploads: usize,
}

impl std::fmt::Debug for CloudStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudStore")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl CloudStore {
    /// Opens `s3://`, `gs://` or `az://BUCKET[/PREFIX]`. Nothing is sent yet: a missing bucket or
    /// refused credentials show at the first request, with a message saying so.
    pub fn open(url: &str, options: &CloudOptions) -> Result<CloudStore, StoreError> {
        let bad = |reason: String| StoreError::BadLocation {
            location: url.to_string(),
            reason,
        };
        let parsed = CloudUrl::parse(url).map_err(bad)?;
        let connection = connect(&parsed, options).map_err(bad)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-cloud")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the storage client's threads: {e}")))?;
        Ok(CloudStore {
            url: url.to_string(),
            provider: parsed.provider,
            bucket: parsed.bucket,
            prefix: parsed.prefix,
            endpoint: connection.endpoint,
            client: connection.client,
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
        let (detail, retries) = (&explained.detail, &explained.retries);
        let (endpoint, provider) = (&self.endpoint, self.provider);
        let (word, bucket) = (provider.bucket_word(), &self.bucket);
        let reason = match explained.kind {
            Kind::NotFound => {
                return StoreError::NotFound {
                    location: self.location(),
                    name: name.to_string(),
                }
            }
            Kind::MissingBucket => format!(
                "{word} {bucket} does not exist at {endpoint} ({detail}); create it, or check the {word} name and {}",
                provider.endpoint_variable()
            ),
            Kind::Credentials => format!(
                "{endpoint} refused the credentials ({detail}); check {} and that they may read and write {word} {bucket}",
                provider.credential_variables()
            ),
            Kind::Unreachable => format!(
                "cannot reach {endpoint}{retries} in {:.1} s ({detail}); check {} and that the server is up (STRATA_CLOUD_RETRIES and STRATA_CLOUD_RETRY_SECONDS set how long to retry)",
                took.as_secs_f64(),
                provider.endpoint_variable()
            ),
            Kind::NoCredentials => format!(
                "cannot get credentials for {endpoint}{retries} ({detail}); set {}",
                provider.credential_variables()
            ),
            Kind::PlainHttp => format!(
                "{detail}: the endpoint is plain HTTP; set {}=true to use it",
                provider.allow_http_variable()
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

impl Store for CloudStore {
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
            // A range that starts past the end is refused (416): say so with the size.
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

    fn open(url: &str) -> CloudStore {
        let options = CloudOptions::from_pairs([
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ])
        .unwrap();
        CloudStore::open(url, &options).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn object_names_are_keys_under_the_prefix() {
        for url in ["s3://bucket/some/prefix/", "az://bucket/some/prefix"] {
            let store = open(url);
            assert_eq!(store.bucket, "bucket");
            assert_eq!(store.key("packs/ab/cd").as_ref(), "some/prefix/packs/ab/cd");
            assert_eq!(
                store.name_of(&Path::from("some/prefix/config")).as_deref(),
                Some("config")
            );
            assert_eq!(store.name_of(&Path::from("some/prefixed/config")), None);
        }
        let root = open("s3://bucket");
        assert_eq!(root.key("config").as_ref(), "config");
        assert_eq!(root.location(), "s3://bucket");
    }

    #[test]
    fn bad_urls_are_refused_with_the_url_and_a_reason() {
        let options = CloudOptions::default();
        let err = CloudStore::open("s3:///prefix", &options)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s3:///prefix: no bucket name"), "{err}");
    }
}
