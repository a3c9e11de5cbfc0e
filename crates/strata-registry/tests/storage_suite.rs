//! One storage conformance suite, run against the filesystem and the S3 backend.

mod common;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use strata_registry::storage::Storage;
use strata_registry::ErrorKind;

use common::Backend;

async fn open(b: Backend) -> Option<(tempfile::TempDir, std::sync::Arc<dyn Storage>)> {
    let dir = tempfile::tempdir().unwrap();
    let s = common::storage(b, dir.path()).await?;
    Some((dir, s))
}

async fn collect(s: &dyn Storage, key: &str, start: u64, end: Option<u64>) -> Vec<u8> {
    let st = s.get_range(key, start, end).await.unwrap();
    let parts: Vec<Bytes> = st.try_collect().await.unwrap();
    parts.concat()
}

async fn put_get_stat_delete(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    assert_eq!(
        s.get("v1/a/b").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(s.stat("v1/a/b").await.unwrap().is_none());
    s.put("v1/a/b", Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(s.get("v1/a/b").await.unwrap(), Bytes::from_static(b"hello"));
    let m = s.stat("v1/a/b").await.unwrap().unwrap();
    assert_eq!((m.key.as_str(), m.size), ("v1/a/b", 5));
    s.put("v1/a/b", Bytes::from_static(b"bye")).await.unwrap();
    assert_eq!(s.get("v1/a/b").await.unwrap(), Bytes::from_static(b"bye"));
    s.delete("v1/a/b").await.unwrap();
    s.delete("v1/a/b").await.unwrap();
    assert!(s.stat("v1/a/b").await.unwrap().is_none());
}

async fn ranges(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    s.put("v1/r", Bytes::from(data.clone())).await.unwrap();
    assert_eq!(collect(&*s, "v1/r", 0, None).await, data);
    assert_eq!(collect(&*s, "v1/r", 10, Some(20)).await, &data[10..20]);
    assert_eq!(collect(&*s, "v1/r", 99_990, None).await, &data[99_990..]);
    assert!(s.get_range("v1/missing", 0, None).await.is_err());
    // Several read chunks, with ranges starting and ending inside them.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    s.put("v1/big", Bytes::from(big.clone())).await.unwrap();
    assert_eq!(collect(&*s, "v1/big", 0, None).await, big);
    assert_eq!(
        collect(&*s, "v1/big", 1000, Some(2_500_001)).await,
        &big[1000..2_500_001]
    );
    assert_eq!(collect(&*s, "v1/big", 262_144, None).await, &big[262_144..]);
    assert!(collect(&*s, "v1/big", 5, Some(5)).await.is_empty());
}

async fn streaming_put(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    // 20 MiB in 1 MiB chunks: spans several multipart parts on S3.
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    let st = futures::stream::iter((0..20).map(move |_| Ok(chunk.clone()))).boxed();
    let n = s.put_stream("v1/big", st).await.unwrap();
    assert_eq!(n, 20 << 20);
    assert_eq!(s.stat("v1/big").await.unwrap().unwrap().size, 20 << 20);
    // Big enough to be synced in the background while written, in uneven chunks.
    let parts: Vec<Bytes> = (0..90u32)
        .map(|i| Bytes::from(vec![i as u8; 400_000 + i as usize]))
        .collect();
    let expect: Vec<u8> = parts.concat();
    let st = futures::stream::iter(parts.into_iter().map(Ok)).boxed();
    let n = s.put_stream("v1/bigger", st).await.unwrap();
    assert_eq!(n, expect.len() as u64);
    assert!(collect(&*s, "v1/bigger", 0, None).await == expect);
    // A failing body leaves nothing behind.
    let bad = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"x")),
        Err(std::io::Error::other("boom")),
    ])
    .boxed();
    assert!(s.put_stream("v1/bad", bad).await.is_err());
    assert!(s.stat("v1/bad").await.unwrap().is_none());
    let empty = futures::stream::empty().boxed();
    assert_eq!(s.put_stream("v1/empty", empty).await.unwrap(), 0);
    assert_eq!(s.get("v1/empty").await.unwrap().len(), 0);
}

async fn listing(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    for k in ["v1/x/a/1", "v1/x/a/2", "v1/x/b", "v1/xy/c", "v1/z"] {
        s.put(k, Bytes::from_static(b"1")).await.unwrap();
    }
    let mut keys: Vec<String> = s
        .list("v1/x/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["v1/x/a/1", "v1/x/a/2", "v1/x/b"]);
    let mut partial: Vec<String> = s
        .list("v1/x")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    partial.sort();
    assert_eq!(partial, ["v1/x/a/1", "v1/x/a/2", "v1/x/b", "v1/xy/c"]);
    let mut kids = s.list_children("v1/x/").await.unwrap();
    kids.sort();
    assert_eq!(kids, ["a", "b"]);
    assert!(s.list_children("v1/none/").await.unwrap().is_empty());
    assert!(s.list("v1/none/").await.unwrap().is_empty());
    s.delete_prefix("v1/x/").await.unwrap();
    assert!(s.list("v1/x/").await.unwrap().is_empty());
    assert_eq!(s.list("v1/xy/").await.unwrap().len(), 1);
}

async fn rename_and_touch(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    s.put("v1/blobs/from", Bytes::from_static(b"data"))
        .await
        .unwrap();
    s.rename("v1/blobs/from", "v1/blobs/to/data").await.unwrap();
    assert!(s.stat("v1/blobs/from").await.unwrap().is_none());
    assert_eq!(
        s.get("v1/blobs/to/data").await.unwrap(),
        Bytes::from_static(b"data")
    );
    assert_eq!(
        s.rename("v1/blobs/nope", "v1/blobs/x")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let before = s.last_used("v1/blobs/to/data").await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.touch("v1/blobs/to/data").await.unwrap();
    let after = s.last_used("v1/blobs/to/data").await.unwrap().unwrap();
    assert!(after > before, "{after:?} > {before:?}");
    assert!(s.last_used("v1/blobs/none").await.unwrap().is_none());
}

async fn rejects_bad_keys(b: Backend) {
    let Some((_d, s)) = open(b).await else { return };
    assert!(s.put("v1/../escape", Bytes::new()).await.is_err());
}

per_backend!(
    put_get_stat_delete,
    ranges,
    streaming_put,
    listing,
    rename_and_touch,
    rejects_bad_keys
);
