//! The README's first command. Until the embedded emulator lands it signs a
//! request offline and shows the canonical strings, so it runs anywhere.

use coscls::auth::{sign, Credentials, HeaderRule, KeyTime, SignableRequest};
use coscls::cos::{BucketName, Endpoint, Region};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let creds = Credentials::new("AKIDquickstart", "quickstart-secret")?;
    let region = Region::parse("ap-guangzhou")?;
    let bucket = BucketName::parse("examplebucket-1250000000")?;
    let url = Endpoint::for_region(&region).object_url(&bucket, "hello/world.txt", &[])?;
    let headers = [
        ("Host", url.host.as_str()),
        ("Content-Length", "11"),
        ("User-Agent", "coscls"),
    ];
    let sig = sign(
        &creds,
        KeyTime::new(1_700_000_000, 1_700_003_600),
        &SignableRequest {
            method: "PUT",
            path: &url.signed_path,
            params: &[],
            headers: &HeaderRule::Cos.select(&headers),
        },
    );
    println!("PUT {}", url.url);
    println!("signed headers: {}", sig.header_list);
    println!("HttpString: {:?}", sig.http_string);
    println!("emulator not yet built: this quickstart only signs offline for now");
    Ok(())
}
