//! The COS object lifecycle on the embedded emulator (offline, no account):
//!
//! ```sh
//! cargo run --example cos_basics
//! ```
//!
//! Point the same code at Tencent Cloud by dropping `.endpoint(...)` and
//! giving real credentials (`EnvProvider` reads `TENCENTCLOUD_SECRET_ID` /
//! `TENCENTCLOUD_SECRET_KEY`).

use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cos::{
    Client, DownloadOptions, ListOptions, PresignOptions, PutOptions, UploadOptions,
};
use futures_util::TryStreamExt;

const BUCKET: &str = "examplebucket-1250000000";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = coscls_emulator::Emulator::builder()
        .credentials("AKIDexample", "example-secret")
        .bucket(BUCKET)
        .start()
        .await?;

    let client = Client::builder()
        .region("ap-guangzhou")
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new("AKIDexample", "example-secret")?)
        .build()?;

    // Small objects: one request, retried, CRC-64 checked.
    let opts = PutOptions::default()
        .content_type("text/plain; charset=utf-8")
        .metadata("author", "coscls");
    let put = client
        .put_object_with(BUCKET, "docs/你好 world.txt", "hello cos", &opts)
        .await?;
    println!("put: etag {:?}, crc64 {:?}", put.etag, put.crc64);

    let object = client.get_object(BUCKET, "docs/你好 world.txt").await?;
    // Read the headers before the body is taken out of `object`.
    let author = object.meta().metadata.get("author").cloned();
    println!("get: {:?} by {:?}", object.body.bytes().await?, author);

    // Large data: parts in parallel, bounded memory, progress.
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("big.bin");
    std::fs::write(&src, vec![42u8; 20 * 1024 * 1024])?;
    let upload = UploadOptions::default().on_progress(|p| {
        println!("  uploaded {} of {:?} bytes", p.transferred, p.total);
    });
    let out = client
        .upload_file(BUCKET, "data/big.bin", &src, &upload)
        .await?;
    println!("upload_file: {} parts, crc64 {:?}", out.parts, out.crc64);

    let dst = dir.path().join("big.copy");
    let got = client
        .download_file(BUCKET, "data/big.bin", &dst, &DownloadOptions::default())
        .await?;
    println!(
        "download_file: {} bytes, verified crc64 {:?}",
        got.size, got.crc64_verified
    );

    // Listing: a stream over every page.
    let keys: Vec<String> = client
        .list_objects_stream(BUCKET, ListOptions::default().max_keys(1))
        .map_ok(|page| page.objects.into_iter().map(|o| o.key).collect::<Vec<_>>())
        .try_concat()
        .await?;
    println!("list: {keys:?}");

    // A URL anyone can use for ten minutes.
    let url = client
        .presigned_url(
            BUCKET,
            "data/big.bin",
            &PresignOptions::get(Duration::from_secs(600)),
        )
        .await?;
    println!("presigned: {}…", &url[..url.len().min(80)]);

    // Errors say what COS said.
    match client.head_object(BUCKET, "missing").await {
        Err(e) if e.is_not_found() => println!("head missing: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    client
        .delete_objects(BUCKET, ["docs/你好 world.txt", "data/big.bin"])
        .await?;
    emulator.shutdown().await;
    Ok(())
}
