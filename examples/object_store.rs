//! COS through the generic `object_store` API, offline on the embedded
//! emulator: a CSV file written with object_store's buffered writer (a
//! multipart upload once it outgrows one buffer) and read back line by line
//! with its buffered reader, as DataFusion or Polars would.
//!
//! ```sh
//! cargo run --features object-store --example object_store
//! ```

use std::sync::Arc;

use coscls::auth::Credentials;
use coscls::cos::Client;
use coscls::object_store::CosStore;
use object_store::buffered::{BufReader, BufWriter};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const BUCKET: &str = "examplebucket-1250000000";
const ROWS: u64 = 100_000;

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

    // Everything this store writes lands under `warehouse/` in the bucket.
    let store: Arc<dyn ObjectStore> = Arc::new(
        CosStore::builder(client, BUCKET)
            .prefix("warehouse")
            .build()?,
    );
    let path = Path::from("sales/2024/part-0000.csv");

    // Write through a 1 MiB buffer: the ~1.2 MiB file outgrows it, so it
    // goes up as a multipart upload in 1 MiB parts (the smallest COS
    // accepts but the last).
    let mut writer = BufWriter::with_capacity(store.clone(), path.clone(), 1 << 20);
    writer.write_all(b"id,region,amount\n").await?;
    let mut expected_total = 0u64;
    for id in 0..ROWS {
        let amount = id % 997;
        expected_total += amount;
        let region = ["gz", "sh", "bj"][(id % 3) as usize];
        writer
            .write_all(format!("{id},{region},{amount}\n").as_bytes())
            .await?;
    }
    writer.shutdown().await?;

    let meta = store.head(&path).await?;
    println!(
        "wrote {} ({} bytes, ETag {:?})",
        meta.location, meta.size, meta.e_tag
    );

    // Read back with the buffered reader and aggregate the CSV.
    let mut lines = BufReader::new(store.clone(), &meta).lines();
    let header = lines.next_line().await?.ok_or("empty file")?;
    assert_eq!(header, "id,region,amount");
    let (mut rows, mut total) = (0u64, 0u64);
    while let Some(line) = lines.next_line().await? {
        let amount: u64 = line.rsplit(',').next().ok_or("no amount")?.parse()?;
        rows += 1;
        total += amount;
    }
    println!("read {rows} rows, total amount {total}");
    assert_eq!((rows, total), (ROWS, expected_total));

    // The generic listing API sees "directories" as common prefixes.
    let listing = store
        .list_with_delimiter(Some(&Path::from("sales")))
        .await?;
    println!("under sales/: {:?}", listing.common_prefixes);

    store.delete(&path).await?;
    println!(
        "requests the emulator served: {:?}",
        emulator.stats().operations
    );
    Ok(())
}
