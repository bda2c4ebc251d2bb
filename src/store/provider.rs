//! Which object storage a repository URL names, and how to reach it: `s3://bucket/prefix` (AWS S3
//! and S3-compatible servers), `gs://bucket/prefix` (Google Cloud Storage) and
//! `az://container/prefix` (Azure Blob Storage; also `azure://`, and `abfs[s]://` in both the
//! fsspec form and `container@account.dfs.core.windows.net/prefix`).
//!
//! Settings come from the variables each provider's own tools read (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`), handed to the `object_store` builders, plus Strata's upload and retry settings,
//! which are the same for every provider. This module builds clients; it sends nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::validate_name;

/// Parallel uploads (whole pack files) when `STRATA_CLOUD_UPLOADS` is not set.
pub const DEFAULT_UPLOADS: usize = 4;
/// Retries of a failed request when `STRATA_CLOUD_RETRIES` is not set.
pub const DEFAULT_RETRIES: usize = 6;
/// Longest time spent retrying one request when `STRATA_CLOUD_RETRY_SECONDS` is not set.
pub const DEFAULT_RETRY_SECONDS: u64 = 60;
/// One request (e.g. a 16 MiB pack upload) may take this long before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The account Azurite (the Azure Storage emulator) serves, and its published key.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const AZURITE_URL: &str = "http://127.0.0.1:10000";

/// An object storage service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    S3,
    Gcs,
    Azure,
}

impl Provider {
    /// The service's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::S3 => "AWS S3",
            Provider::Gcs => "Google Cloud Storage",
            Provider::Azure => "Azure Blob Storage",
        }
    }

    /// What the service calls the top-level namespace objects live in.
    pub fn bucket_word(self) -> &'static str {
        match self {
            Provider::S3 | Provider::Gcs => "bucket",
            Provider::Azure => "container",
        }
    }

    /// The variables that hold credentials, for advice when they are refused or missing.
    pub fn credential_variables(self) -> &'static str {
        match self {
            Provider::S3 => "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)",
            Provider::Gcs => {
                "GOOGLE_SERVICE_ACCOUNT (a key file), GOOGLE_SERVICE_ACCOUNT_KEY or GOOGLE_APPLICATION_CREDENTIALS"
            }
            Provider::Azure => {
                "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID)"
            }
        }
    }

    /// The variable that points the client at another server.
    pub fn endpoint_variable(self) -> &'static str {
        match self {
            Provider::S3 => "AWS_ENDPOINT_URL",
            Provider::Gcs => "GOOGLE_BASE_URL (or gcs_base_url in the service account key)",
            Provider::Azure => "AZURE_STORAGE_ENDPOINT (or AZURITE_BLOB_STORAGE_URL)",
        }
    }

    /// The variable that allows a plain `http://` endpoint.
    pub fn allow_http_variable(self) -> &'static str {
        match self {
            Provider::S3 => "AWS_ALLOW_HTTP",
            Provider::Gcs => "GOOGLE_ALLOW_HTTP",
            Provider::Azure => "AZURE_ALLOW_HTTP",
        }
    }

    /// Whether an environment variable configures this provider's client.
    fn reads(self, variable: &str) -> bool {
        match self {
            Provider::S3 => variable.starts_with("AWS_"),
            Provider::Gcs => variable.starts_with("GOOGLE_"),
            Provider::Azure => {
                variable.starts_with("AZURE_") || variable == "AZURITE_BLOB_STORAGE_URL"
            }
        }
    }
}

/// A repository URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudUrl {
    pub provider: Provider,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
    /// The storage account an `abfs://container@account.dfs.core.windows.net` URL names.
    pub account: Option<String>,
}

impl CloudUrl {
    /// Whether `location` names object storage (by its scheme) rather than a directory.
    pub fn is_cloud(location: &str) -> bool {
        location
            .split_once("://")
            .is_some_and(|(scheme, _)| provider_of(scheme).is_some())
    }

    /// Parses `SCHEME://BUCKET[/PREFIX]`; the error says what is wrong with the URL.
    pub fn parse(url: &str) -> Result<CloudUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "an object storage URL starts with s3://, gs:// or az://".to_string())?;
        let provider = provider_of(scheme)
            .ok_or_else(|| format!("{scheme}:// is not an object storage URL"))?;
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let word = provider.bucket_word();
        let (bucket, account) = match authority.split_once('@') {
            Some((container, host)) if provider == Provider::Azure => {
                let account = [".dfs.core.windows.net", ".blob.core.windows.net"]
                    .iter()
                    .find_map(|suffix| host.strip_suffix(suffix))
                    .filter(|a| !a.is_empty() && !a.contains('.'))
                    .ok_or_else(|| {
                        format!("{host} is not ACCOUNT.dfs.core.windows.net or ACCOUNT.blob.core.windows.net")
                    })?;
                (container, Some(account.to_string()))
            }
            _ => (authority, None),
        };
        if bucket.is_empty() {
            return Err(format!(
                "no {word} name; use {scheme}://{upper} or {scheme}://{upper}/PREFIX",
                upper = word.to_ascii_uppercase()
            ));
        }
        if bucket.contains(['@', '?', '#', ':']) {
            return Err(format!("{bucket:?} is not a {word} name"));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() && validate_name(&prefix).is_err() {
            return Err(format!(
                "invalid key prefix {prefix:?} (empty, `.` or `..` parts are not allowed)"
            ));
        }
        Ok(CloudUrl {
            provider,
            bucket: bucket.to_string(),
            prefix,
            account,
        })
    }
}

fn provider_of(scheme: &str) -> Option<Provider> {
    match scheme {
        "s3" => Some(Provider::S3),
        "gs" => Some(Provider::Gcs),
        "az" | "azure" | "abfs" | "abfss" => Some(Provider::Azure),
        _ => None,
    }
}

/// How to reach object storage: the provider variables `object_store` understands (credentials,
/// region, endpoint, …) and Strata's own upload and retry settings.
#[derive(Clone, Default)]
pub struct CloudOptions {
    /// `AWS_*`, `GOOGLE_*`, `AZURE_*` settings, by lower-case name.
    settings: BTreeMap<String, String>,
    /// Parallel uploads.
    pub uploads: Option<usize>,
    /// Retries per request.
    pub retries: Option<usize>,
    /// Time limit for retrying one request.
    pub retry_seconds: Option<u64>,
}

impl std::fmt::Debug for CloudOptions {
    /// Credentials stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudOptions")
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("uploads", &self.uploads)
            .field("retries", &self.retries)
            .field("retry_seconds", &self.retry_seconds)
            .finish()
    }
}

/// Strata's tuning variables; each is also read under its older `STRATA_S3_` name.
const UPLOADS: &str = "UPLOADS";
const RETRIES: &str = "RETRIES";
const RETRY_SECONDS: &str = "RETRY_SECONDS";

impl CloudOptions {
    /// Reads the provider variables, `STRATA_CLOUD_UPLOADS`, `STRATA_CLOUD_RETRIES` and
    /// `STRATA_CLOUD_RETRY_SECONDS` from the environment.
    pub fn from_env() -> Result<CloudOptions, String> {
        CloudOptions::from_pairs(std::env::vars())
    }

    /// The same from explicit `(NAME, value)` pairs; other names are ignored. `STRATA_S3_*`
    /// (the names before other providers came) count when the `STRATA_CLOUD_*` one is not set.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<CloudOptions, String> {
        let mut options = CloudOptions::default();
        let mut tuning: BTreeMap<(u8, &'static str), (String, String)> = BTreeMap::new();
        for (key, value) in pairs {
            let key = key.as_ref();
            let value = value.into();
            let tuned = [(0, "STRATA_CLOUD_"), (1, "STRATA_S3_")]
                .into_iter()
                .find_map(|(rank, head)| {
                    let name = key.strip_prefix(head)?;
                    [UPLOADS, RETRIES, RETRY_SECONDS]
                        .into_iter()
                        .find(|n| *n == name)
                        .map(|n| (rank, n))
                });
            if let Some(slot) = tuned {
                tuning.insert(slot, (key.to_string(), value));
                continue;
            }
            // An empty variable counts as unset, as in most tools.
            let provider_variable = [Provider::S3, Provider::Gcs, Provider::Azure]
                .iter()
                .any(|p| p.reads(key));
            if provider_variable && !value.is_empty() {
                options.settings.insert(key.to_ascii_lowercase(), value);
            }
        }
        // The new name wins: it sorts first.
        for ((_, name), (key, value)) in tuning.into_iter().rev() {
            match name {
                UPLOADS => options.uploads = Some(positive(&key, &value)?),
                RETRIES => options.retries = Some(number(&key, &value)?),
                _ => options.retry_seconds = Some(number(&key, &value)?),
            }
        }
        Ok(options)
    }

    pub(crate) fn uploads(&self) -> usize {
        self.uploads.unwrap_or(DEFAULT_UPLOADS)
    }

    pub(crate) fn retry(&self) -> RetryConfig {
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

    fn get(&self, variable: &str) -> Option<&str> {
        self.settings
            .get(&variable.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn is_true(&self, variable: &str) -> bool {
        // The values object_store takes for true.
        let value = self.get(variable).map(str::to_ascii_lowercase);
        matches!(value.as_deref(), Some("1" | "true" | "on" | "yes" | "y"))
    }

    /// The settings of one provider, by lower-case name.
    fn of(&self, provider: Provider) -> impl Iterator<Item = (&str, &str)> {
        self.settings
            .iter()
            .filter(move |(key, _)| provider.reads(&key.to_ascii_uppercase()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
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

/// A client for one bucket, and where its requests go (for messages).
pub(crate) struct Connection {
    pub client: Arc<dyn ObjectStore>,
    /// The server requests go to, or the service's name when it is the provider's own.
    pub endpoint: String,
}

/// Builds the client for `url` from `options`. Nothing is sent yet: a missing bucket or refused
/// credentials show at the first request.
pub(crate) fn connect(url: &CloudUrl, options: &CloudOptions) -> Result<Connection, String> {
    let client_options = ClientOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT);
    match url.provider {
        Provider::S3 => connect_s3(url, options, client_options),
        Provider::Gcs => connect_gcs(url, options, client_options),
        Provider::Azure => connect_azure(url, options, client_options),
    }
}

fn connect_s3(
    url: &CloudUrl,
    options: &CloudOptions,
    client_options: ClientOptions,
) -> Result<Connection, String> {
    let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
        .iter()
        .find_map(|v| options.get(v))
        .map(str::to_string);
    check_http(Provider::S3, endpoint.as_deref(), options)?;
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client_options)
        .with_region("us-east-1");
    for (key, value) in options.of(Provider::S3) {
        // Settings object_store does not know (e.g. AWS_PROFILE) are for other tools.
        if let Ok(key) = key.parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let built = builder
        .with_bucket_name(&url.bucket)
        .with_retry(options.retry())
        .build();
    connection(Provider::S3, built, endpoint)
}

fn connect_gcs(
    url: &CloudUrl,
    options: &CloudOptions,
    client_options: ClientOptions,
) -> Result<Connection, String> {
    let endpoint = options.get("GOOGLE_BASE_URL").map(str::to_string);
    check_http(Provider::Gcs, endpoint.as_deref(), options)?;
    // object_store's own message for a missing key file names neither the variable nor the fix.
    for variable in [
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ] {
        match options.get(variable) {
            Some(path) if !std::path::Path::new(path).is_file() => {
                return Err(format!(
                    "{variable}={path} names no file; point it at a service account key file (JSON)"
                ))
            }
            _ => {}
        }
    }
    let mut builder = GoogleCloudStorageBuilder::new().with_client_options(client_options);
    for (key, value) in options.of(Provider::Gcs) {
        if let Ok(key) = key.parse::<GoogleConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let built = builder
        .with_bucket_name(&url.bucket)
        .with_retry(options.retry())
        .build();
    connection(Provider::Gcs, built, endpoint)
}

/// Azure, where the emulator is configured here rather than by `object_store`, which would read
/// `AZURITE_BLOB_STORAGE_URL` from the process environment instead of `options`.
fn connect_azure(
    url: &CloudUrl,
    options: &CloudOptions,
    client_options: ClientOptions,
) -> Result<Connection, String> {
    let mut builder = MicrosoftAzureBuilder::new().with_client_options(client_options);
    for (key, value) in options.of(Provider::Azure) {
        if key == "azure_storage_use_emulator" {
            continue;
        }
        if let Ok(key) = key.parse::<AzureConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let emulator = options.is_true("AZURE_STORAGE_USE_EMULATOR");
    let account = url
        .account
        .as_deref()
        .or(options.get("AZURE_STORAGE_ACCOUNT_NAME"))
        .or(emulator.then_some(AZURITE_ACCOUNT))
        .ok_or_else(|| {
            "no storage account: set AZURE_STORAGE_ACCOUNT_NAME (or AZURE_STORAGE_USE_EMULATOR=true for Azurite)"
                .to_string()
        })?
        .to_string();
    builder = builder.with_account(&account);
    let endpoint = if emulator {
        // Azurite serves accounts as the first part of the path.
        let base = options
            .get("AZURITE_BLOB_STORAGE_URL")
            .unwrap_or(AZURITE_URL);
        let endpoint = format!("{}/{account}", base.trim_end_matches('/'));
        let has_credentials = ["AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN"]
            .iter()
            .any(|v| options.get(v).is_some());
        if !has_credentials {
            builder = builder.with_access_key(AZURITE_KEY);
        }
        builder = builder
            .with_endpoint(endpoint.clone())
            .with_allow_http(true);
        endpoint
    } else {
        let endpoint = options.get("AZURE_STORAGE_ENDPOINT").map(str::to_string);
        check_http(Provider::Azure, endpoint.as_deref(), options)?;
        endpoint.unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"))
    };
    let built = builder
        .with_container_name(&url.bucket)
        .with_retry(options.retry())
        .build();
    connection(Provider::Azure, built, Some(endpoint))
}

/// The built client, or why it could not be configured.
fn connection(
    provider: Provider,
    built: object_store::Result<impl ObjectStore>,
    endpoint: Option<String>,
) -> Result<Connection, String> {
    let client = built.map_err(|e| {
        format!(
            "cannot configure the {} client: {}",
            provider.name(),
            super::cloud_error::one_line(&e.to_string())
        )
    })?;
    Ok(Connection {
        client: Arc::new(client),
        endpoint: endpoint.unwrap_or_else(|| provider.name().to_string()),
    })
}

/// A plain-HTTP endpoint is refused unless explicitly allowed, with the variable to set.
fn check_http(
    provider: Provider,
    endpoint: Option<&str>,
    options: &CloudOptions,
) -> Result<(), String> {
    let variable = provider.allow_http_variable();
    match endpoint {
        Some(endpoint) if endpoint.starts_with("http://") && !options.is_true(variable) => Err(
            format!("the endpoint {endpoint} is plain HTTP; set {variable}=true to use it"),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> CloudUrl {
        CloudUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn urls_name_provider_bucket_and_prefix() {
        let s3 = parse("s3://bucket/some/prefix/");
        assert_eq!(
            (s3.provider, s3.bucket.as_str(), s3.prefix.as_str()),
            (Provider::S3, "bucket", "some/prefix")
        );
        let gs = parse("gs://backups");
        assert_eq!((gs.provider, gs.prefix.as_str()), (Provider::Gcs, ""));
        for url in ["az://c/p", "azure://c/p", "abfs://c/p", "abfss://c/p/"] {
            let az = parse(url);
            assert_eq!(
                (
                    az.provider,
                    az.bucket.as_str(),
                    az.prefix.as_str(),
                    az.account
                ),
                (Provider::Azure, "c", "p", None),
                "{url}"
            );
        }
        let abfs = parse("abfss://c@acct.dfs.core.windows.net/shop");
        assert_eq!(abfs.account.as_deref(), Some("acct"));
        assert_eq!((abfs.bucket.as_str(), abfs.prefix.as_str()), ("c", "shop"));
        assert!(CloudUrl::is_cloud("gs://b") && !CloudUrl::is_cloud("/backups/shop"));
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for (url, reason) in [
            ("s3://", "no bucket name"),
            ("gs:///prefix", "no bucket name; use gs://BUCKET"),
            ("az://", "no container name; use az://CONTAINER"),
            ("s3://b/a/../c", "invalid key prefix"),
            (
                "abfs://c@acct.example.com/p",
                "is not ACCOUNT.dfs.core.windows.net",
            ),
            ("gs://user@b/p", "is not a bucket name"),
            ("ftp://h/p", "not an object storage URL"),
        ] {
            let err = CloudUrl::parse(url).unwrap_err();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }

    #[test]
    fn options_come_from_provider_and_strata_variables() {
        let options = CloudOptions::from_pairs([
            ("AWS_REGION", "eu-west-1"),
            ("GOOGLE_SERVICE_ACCOUNT_KEY", "{}"),
            ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
            ("AZURE_EMPTY", ""),
            ("STRATA_CLOUD_UPLOADS", "8"),
            ("STRATA_CLOUD_RETRIES", "0"),
            ("STRATA_CLOUD_RETRY_SECONDS", "5"),
            ("HOME", "/root"),
        ])
        .unwrap();
        assert_eq!(options.get("AWS_REGION"), Some("eu-west-1"));
        assert_eq!(options.settings.len(), 3);
        assert_eq!(options.of(Provider::Azure).count(), 1);
        assert_eq!(options.uploads(), 8);
        assert_eq!(options.retry().max_retries, 0);
        assert_eq!(options.retry().retry_timeout, Duration::from_secs(5));
        for bad in [("STRATA_CLOUD_UPLOADS", "0"), ("STRATA_S3_RETRIES", "many")] {
            assert!(CloudOptions::from_pairs([bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_old_s3_tuning_names_still_count_and_the_new_ones_win() {
        let old =
            CloudOptions::from_pairs([("STRATA_S3_UPLOADS", "3"), ("STRATA_S3_RETRIES", "1")])
                .unwrap();
        assert_eq!((old.uploads(), old.retry().max_retries), (3, 1));
        let both =
            CloudOptions::from_pairs([("STRATA_CLOUD_UPLOADS", "5"), ("STRATA_S3_UPLOADS", "3")])
                .unwrap();
        assert_eq!(both.uploads(), 5);
    }

    #[test]
    fn debug_output_hides_credentials() {
        let options =
            CloudOptions::from_pairs([("AZURE_STORAGE_ACCOUNT_KEY", "very-secret")]).unwrap();
        assert!(!format!("{options:?}").contains("very-secret"));
    }

    #[test]
    fn clients_are_configured_or_refused_with_what_to_set() {
        let connect_with = |url: &str, pairs: &[(&str, &str)]| {
            connect(
                &parse(url),
                &CloudOptions::from_pairs(pairs.iter().copied()).unwrap(),
            )
        };
        let plain = connect_with("s3://b", &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
        assert!(plain.err().unwrap().contains("AWS_ALLOW_HTTP=true"));
        let plain = connect_with("gs://b", &[("GOOGLE_BASE_URL", "http://127.0.0.1:9")]);
        assert!(plain.err().unwrap().contains("GOOGLE_ALLOW_HTTP=true"));
        let no_account = connect_with("az://c", &[]);
        assert!(no_account
            .err()
            .unwrap()
            .contains("AZURE_STORAGE_ACCOUNT_NAME"));
        let no_file = connect_with(
            "gs://b",
            &[("GOOGLE_APPLICATION_CREDENTIALS", "/no/such.json")],
        );
        assert!(no_file.err().unwrap().contains("names no file"));
        let emulator = connect_with(
            "az://c/p",
            &[
                ("AZURE_STORAGE_USE_EMULATOR", "true"),
                ("AZURITE_BLOB_STORAGE_URL", "http://127.0.0.1:9/"),
            ],
        )
        .unwrap();
        assert_eq!(emulator.endpoint, "http://127.0.0.1:9/devstoreaccount1");
        let azure = connect_with(
            "az://c",
            &[
                ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
                ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY),
            ],
        )
        .unwrap();
        assert_eq!(azure.endpoint, "https://acct.blob.core.windows.net");
    }
}
