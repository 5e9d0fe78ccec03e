//! Bucket storage: the durable home of segments and Global snapshots, over `object_store`.
//! Local disk is a cache in front of it. Every upload is verified by reading the object back
//! (size and crc32) before Global records the segment as in the bucket; every download is
//! verified against the crc32 Global holds before it replaces a local file.
//!
//! Object layout under the bucket's prefix: `segments/<segment id>`,
//! `snapshots/<next offset, 20 digits>.json` (Global snapshots, newest = largest).

pub mod sync;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};

/// Why a bucket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("bucket URL {url:?}: {reason}")]
    Config { url: String, reason: String },
    #[error("bucket {op} {key}: {source}")]
    Store {
        op: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("bucket object {key} failed verification: {reason}")]
    Verify { key: String, reason: String },
    #[error("local file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type BucketResult<T> = Result<T, BucketError>;

/// A configured bucket.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({})", self.url)
    }
}

fn cfg_err(url: &str, reason: impl Into<String>) -> BucketError {
    BucketError::Config {
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// Few quick retries inside object_store; the uploader's own loop backs off further, so an
/// outage grows a backlog instead of blocking anything.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

fn client() -> ClientOptions {
    ClientOptions::new()
        .with_timeout(Duration::from_secs(60))
        .with_connect_timeout(Duration::from_secs(2))
}

impl Bucket {
    /// Opens `file:///dir`, `s3://bucket[/prefix]` (credentials from `AWS_*`; `s3_endpoint`
    /// for S3-compatible servers, plain HTTP allowed), `gs://bucket[/prefix]` or
    /// `az://container[/prefix]` (credentials from the providers' standard variables).
    pub fn open(url: &str, s3_endpoint: Option<&str>) -> BucketResult<Bucket> {
        let parsed = url::Url::parse(url).map_err(|e| cfg_err(url, e.to_string()))?;
        let prefix = Path::from(parsed.path().trim_matches('/'));
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "file" => {
                let dir = PathBuf::from(parsed.path());
                std::fs::create_dir_all(&dir).map_err(|e| cfg_err(url, e.to_string()))?;
                return Ok(Bucket {
                    store: Arc::new(
                        object_store::local::LocalFileSystem::new_with_prefix(&dir)
                            .map_err(|e| cfg_err(url, e.to_string()))?,
                    ),
                    prefix: Path::from(""),
                    url: url.to_string(),
                });
            }
            "s3" => {
                let name = parsed
                    .host_str()
                    .ok_or_else(|| cfg_err(url, "s3:// needs a bucket name"))?;
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(name)
                    .with_retry(retry())
                    .with_client_options(client());
                if std::env::var("AWS_REGION").is_err()
                    && std::env::var("AWS_DEFAULT_REGION").is_err()
                {
                    b = b.with_region("us-east-1");
                }
                if let Some(ep) = s3_endpoint {
                    b = b
                        .with_endpoint(ep)
                        .with_allow_http(ep.starts_with("http://"));
                }
                Arc::new(b.build().map_err(|e| cfg_err(url, e.to_string()))?)
            }
            "gs" | "az" | "azure" | "abfs" | "abfss" => {
                let (s, _) =
                    object_store::parse_url(&parsed).map_err(|e| cfg_err(url, e.to_string()))?;
                Arc::from(s)
            }
            other => {
                return Err(cfg_err(
                    url,
                    format!("unknown scheme {other:?} (use file://, s3://, gs:// or az://)"),
                ))
            }
        };
        Ok(Bucket {
            store,
            prefix,
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, key: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in key.split('/') {
            p = p.child(part);
        }
        p
    }

    /// Key of a segment's object.
    pub fn segment_key(id: &str) -> String {
        format!("segments/{id}")
    }

    /// Stores `bytes` at `key`, then reads it back and checks size and crc32.
    pub async fn put_verified(&self, key: &str, bytes: bytes::Bytes) -> BucketResult<()> {
        let path = self.path(key);
        let crc = crc32fast::hash(&bytes);
        let len = bytes.len();
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| BucketError::Store {
                op: "put",
                key: key.to_string(),
                source,
            })?;
        let back = self.get(key).await?;
        if back.len() != len || crc32fast::hash(&back) != crc {
            return Err(BucketError::Verify {
                key: key.to_string(),
                reason: format!(
                    "read back {} bytes (crc {:08x}), wrote {len} (crc {crc:08x})",
                    back.len(),
                    crc32fast::hash(&back)
                ),
            });
        }
        Ok(())
    }

    /// Uploads a local file to `key`, verified.
    pub async fn put_file(&self, key: &str, file: &FsPath) -> BucketResult<u64> {
        let bytes = tokio::fs::read(file)
            .await
            .map_err(|source| BucketError::Io {
                path: file.display().to_string(),
                source,
            })?;
        let n = bytes.len() as u64;
        self.put_verified(key, bytes::Bytes::from(bytes)).await?;
        Ok(n)
    }

    pub async fn get(&self, key: &str) -> BucketResult<bytes::Bytes> {
        let path = self.path(key);
        let r = self
            .store
            .get(&path)
            .await
            .map_err(|source| BucketError::Store {
                op: "get",
                key: key.to_string(),
                source,
            })?;
        r.bytes().await.map_err(|source| BucketError::Store {
            op: "get",
            key: key.to_string(),
            source,
        })
    }

    /// Downloads `key` into `dest` (atomically, via a `.partial` file) after checking the
    /// expected crc32 and size. `dest` is a cache file — the bucket keeps the durable copy —
    /// so it is not fsynced: a crash that loses or tears it leaves a file whose footer or
    /// chunk crc32s fail on read, which the searcher quarantines and fetches again, while an
    /// fsync would make every cold query wait for the disk to write what it just downloaded.
    pub async fn get_file(
        &self,
        key: &str,
        dest: &FsPath,
        expect_len: u64,
        expect_crc: u32,
    ) -> BucketResult<()> {
        let bytes = self.get(key).await?;
        let crc = crc32fast::hash(&bytes);
        if bytes.len() as u64 != expect_len || crc != expect_crc {
            return Err(BucketError::Verify {
                key: key.to_string(),
                reason: format!(
                    "got {} bytes (crc {crc:08x}), Global says {expect_len} (crc {expect_crc:08x})",
                    bytes.len()
                ),
            });
        }
        let tmp = dest.with_extension("partial");
        let io = |source| BucketError::Io {
            path: dest.display().to_string(),
            source,
        };
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        tokio::fs::write(&tmp, &bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, dest).await.map_err(io)?;
        Ok(())
    }

    /// Keys under `dir/` (relative to the bucket prefix), sorted.
    pub async fn list(&self, dir: &str) -> BucketResult<Vec<(String, u64)>> {
        Ok(self
            .list_aged(dir)
            .await?
            .into_iter()
            .map(|(k, size, _)| (k, size))
            .collect())
    }

    /// [`Bucket::list`] with each object's last-modified time.
    pub async fn list_aged(
        &self,
        dir: &str,
    ) -> BucketResult<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
        let p = self.path(dir);
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|source| BucketError::Store {
                op: "list",
                key: dir.to_string(),
                source,
            })?;
        let base = self.prefix.as_ref().len();
        let mut out: Vec<(String, u64, chrono::DateTime<chrono::Utc>)> = metas
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref();
                let rel = full[base..].trim_start_matches('/').to_string();
                (rel, m.size, m.last_modified)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> BucketResult<()> {
        self.store
            .delete(&self.path(key))
            .await
            .map_err(|source| BucketError::Store {
                op: "delete",
                key: key.to_string(),
                source,
            })
    }

    /// Uploads an encoded Global snapshot that covers the log up to `next_offset`.
    pub async fn put_snapshot(&self, next_offset: u64, bytes: Vec<u8>) -> BucketResult<()> {
        self.put_verified(
            &format!("snapshots/{next_offset:020}.json"),
            bytes::Bytes::from(bytes),
        )
        .await
    }

    /// Deletes all but the newest `keep` snapshots.
    pub async fn prune_snapshots(&self, keep: usize) -> BucketResult<usize> {
        let keys = self.list("snapshots").await?;
        let n = keys.len().saturating_sub(keep);
        for (k, _) in &keys[..n] {
            self.delete(k).await?;
        }
        Ok(n)
    }

    /// The newest Global snapshot in the bucket, if any.
    pub async fn newest_snapshot(&self) -> BucketResult<Option<(String, bytes::Bytes)>> {
        let keys = self.list("snapshots").await?;
        match keys.last() {
            None => Ok(None),
            Some((k, _)) => Ok(Some((k.clone(), self.get(k).await?))),
        }
    }
}
