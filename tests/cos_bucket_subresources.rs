//! Tagging, ACLs, ListBuckets and lifecycle rules against the embedded
//! emulator: every call is signed and its signature verified there.

mod support;

use coscls::auth::Credentials;
use coscls::cos::{
    AccessControlPolicy, AclOptions, BucketAcl, Grant, Grantee, LifecycleRule, LifecycleTime,
    ListBucketsOptions, ObjectAcl, Permission, PutOptions, StorageClass, ALL_USERS_URI,
};
use support::{builder, setup, BUCKET};

const OWNER: &str = "qcs::cam::uin/100000000001:uin/100000000001";

fn pairs(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn object_tagging_round_trips_including_tags_given_at_put_time() {
    let (emu, client) = setup().await;
    let opts = PutOptions::default().tags(pairs(&[("team", "storage"), ("a b", "1+1")]));
    client
        .put_object_with(BUCKET, "tagged.txt", "x", &opts)
        .await
        .unwrap();
    assert_eq!(
        client
            .get_object_tagging(BUCKET, "tagged.txt", None)
            .await
            .unwrap(),
        pairs(&[("team", "storage"), ("a b", "1+1")])
    );

    client
        .put_object_tagging(BUCKET, "tagged.txt", None, &[("项目", "存储"), ("env", "")])
        .await
        .unwrap();
    assert_eq!(
        client
            .get_object_tagging(BUCKET, "tagged.txt", None)
            .await
            .unwrap(),
        pairs(&[("项目", "存储"), ("env", "")]),
        "a PUT replaces the whole set"
    );

    client
        .delete_object_tagging(BUCKET, "tagged.txt", None)
        .await
        .unwrap();
    assert!(client
        .get_object_tagging(BUCKET, "tagged.txt", None)
        .await
        .unwrap()
        .is_empty());

    // Overwriting the object drops the old tags.
    client
        .put_object_tagging(BUCKET, "tagged.txt", None, &[("k", "v")])
        .await
        .unwrap();
    client.put_object(BUCKET, "tagged.txt", "y").await.unwrap();
    assert!(client
        .get_object_tagging(BUCKET, "tagged.txt", None)
        .await
        .unwrap()
        .is_empty());

    let missing = client
        .put_object_tagging(BUCKET, "missing", None, &[("k", "v")])
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchKey"), "{missing}");
    let e = client
        .get_object_tagging(BUCKET, "tagged.txt", Some("v1"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"), "{e}");

    // Bad tags are refused locally: no request reaches the server.
    let before = emu.stats().requests;
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    let e = client
        .put_object_tagging(BUCKET, "tagged.txt", None, &eleven)
        .await
        .unwrap_err();
    assert!(matches!(e, coscls::cos::Error::InvalidInput { .. }), "{e}");
    for bad in [[("", "v")], [("k", "a<b")], [("qcs:x", "v")]] {
        let e = client
            .put_object_tagging(BUCKET, "tagged.txt", None, &bad)
            .await
            .unwrap_err();
        assert!(matches!(e, coscls::cos::Error::InvalidInput { .. }), "{e}");
    }
    let e = client
        .put_object_with(
            BUCKET,
            "t2",
            "x",
            &PutOptions::default().tags(pairs(&[("k", "v"), ("k", "w")])),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert_eq!(emu.stats().requests, before);
}

#[tokio::test]
async fn bucket_tagging_round_trips() {
    let (_emu, client) = setup().await;
    let e = client.get_bucket_tagging(BUCKET).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"), "{e}");
    client
        .put_bucket_tagging(
            BUCKET,
            &[("cost-center", "42"), ("owner", "ops@example.com")],
        )
        .await
        .unwrap();
    assert_eq!(
        client.get_bucket_tagging(BUCKET).await.unwrap(),
        pairs(&[("cost-center", "42"), ("owner", "ops@example.com")])
    );
    client.delete_bucket_tagging(BUCKET).await.unwrap();
    let e = client.get_bucket_tagging(BUCKET).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchTagSet"), "{e}");
    let e = client
        .put_bucket_tagging("nosuch-1250000000", &[("k", "v")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");
}

#[tokio::test]
async fn bucket_acl_canned_grants_and_policy() {
    let (_emu, client) = setup().await;
    let acl = client.get_bucket_acl(BUCKET).await.unwrap();
    assert_eq!(acl.owner.id, OWNER);
    assert_eq!(
        acl.grants,
        vec![Grant {
            grantee: Grantee::Account {
                id: OWNER.into(),
                display_name: Some(OWNER.into())
            },
            permission: Permission::FullControl
        }],
        "a new bucket is private"
    );
    let everyone = Grantee::all_users();
    assert!(!acl.allows(&everyone, Permission::Read));

    client
        .put_bucket_acl(BUCKET, &AclOptions::bucket_canned(BucketAcl::PublicRead))
        .await
        .unwrap();
    let acl = client.get_bucket_acl(BUCKET).await.unwrap();
    assert!(acl.allows(&everyone, Permission::Read));
    assert!(!acl.allows(&everyone, Permission::Write));

    // Grants as headers; a root account's UIN comes back in the long form.
    let sub = "qcs::cam::uin/100000000001:uin/100000000011";
    let opts = AclOptions::bucket_canned(BucketAcl::Private)
        .grant(Grantee::account("100000000002"), Permission::Read)
        .grant(Grantee::account(sub), Permission::WriteAcp);
    client.put_bucket_acl(BUCKET, &opts).await.unwrap();
    let acl = client.get_bucket_acl(BUCKET).await.unwrap();
    assert!(!acl.allows(&everyone, Permission::Read), "private again");
    assert!(acl.allows(
        &Grantee::account("qcs::cam::uin/100000000002:uin/100000000002"),
        Permission::Read
    ));
    assert!(acl.allows(&Grantee::account(sub), Permission::WriteAcp));
    assert!(!acl.allows(&Grantee::account(sub), Permission::Read));

    // A whole policy document; what GET returns can be PUT back.
    let policy = AccessControlPolicy {
        owner: acl.owner.clone(),
        grants: vec![Grant {
            grantee: Grantee::Group(ALL_USERS_URI.into()),
            permission: Permission::Write,
        }],
    };
    client
        .put_bucket_acl(BUCKET, &AclOptions::policy(policy))
        .await
        .unwrap();
    let acl = client.get_bucket_acl(BUCKET).await.unwrap();
    assert!(acl.allows(&everyone, Permission::Write));
    assert!(!acl.allows(&Grantee::account(sub), Permission::WriteAcp));
    client
        .put_bucket_acl(BUCKET, &AclOptions::policy(acl.clone()))
        .await
        .unwrap();
    assert_eq!(client.get_bucket_acl(BUCKET).await.unwrap(), acl);

    // Someone else's policy is refused by the server.
    let stranger = AccessControlPolicy {
        owner: coscls::cos::Owner {
            id: "qcs::cam::uin/9:uin/9".into(),
            display_name: None,
        },
        grants: vec![],
    };
    let e = client
        .put_bucket_acl(BUCKET, &AclOptions::policy(stranger))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidArgument"), "{e}");
}

#[tokio::test]
async fn object_acl_round_trips() {
    let (_emu, client) = setup().await;
    client.put_object(BUCKET, "page.html", "<p>").await.unwrap();
    let acl = client.get_object_acl(BUCKET, "page.html").await.unwrap();
    assert_eq!(acl.grants.len(), 1, "owner only: {acl:?}");
    client
        .put_object_acl(
            BUCKET,
            "page.html",
            &AclOptions::object_canned(ObjectAcl::PublicRead),
        )
        .await
        .unwrap();
    let acl = client.get_object_acl(BUCKET, "page.html").await.unwrap();
    assert!(acl.allows(&Grantee::all_users(), Permission::Read));
    client
        .put_object_acl(
            BUCKET,
            "page.html",
            &AclOptions::object_canned(ObjectAcl::Default),
        )
        .await
        .unwrap();
    let acl = client.get_object_acl(BUCKET, "page.html").await.unwrap();
    assert!(!acl.allows(&Grantee::all_users(), Permission::Read));

    // An ACL given at upload time (x-cos-acl among the extra headers).
    let opts = PutOptions::default().extra_header("x-cos-acl", "public-read");
    client
        .put_object_with(BUCKET, "public.txt", "x", &opts)
        .await
        .unwrap();
    let acl = client.get_object_acl(BUCKET, "public.txt").await.unwrap();
    assert!(acl.allows(&Grantee::all_users(), Permission::Read));

    let e = client
        .put_object_acl(
            BUCKET,
            "missing",
            &AclOptions::object_canned(ObjectAcl::Private),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e}");
    let e = client.get_object_acl(BUCKET, "missing").await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e}");
    // WRITE does not apply to objects: refused locally.
    let e = client
        .put_object_acl(
            BUCKET,
            "page.html",
            &AclOptions::default().grant(Grantee::all_users(), Permission::Write),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, coscls::cos::Error::InvalidInput { .. }), "{e}");
}

#[tokio::test]
async fn list_buckets_pages_and_filters() {
    let (emu, client) = setup().await;
    client.create_bucket("second-1250000000").await.unwrap();
    client.create_bucket("third-1250000000").await.unwrap();
    client
        .put_bucket_tagging("third-1250000000", &[("team", "web")])
        .await
        .unwrap();

    let all = client.list_buckets().await.unwrap();
    assert_eq!(all.owner.id, OWNER);
    let names: Vec<&str> = all.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [BUCKET, "second-1250000000", "third-1250000000"],
        "sorted by name"
    );
    for b in &all.buckets {
        assert_eq!(b.region.as_deref(), Some(emu.region()));
        assert!(b.creation_date.is_some(), "{b:?}");
    }

    // One at a time: list_buckets follows the markers.
    let page = client
        .list_buckets_with(&ListBucketsOptions::default().max_keys(1))
        .await
        .unwrap();
    assert_eq!(page.buckets.len(), 1);
    assert!(page.is_truncated);
    assert_eq!(page.next_marker.as_deref(), Some(BUCKET));
    let next = client
        .list_buckets_with(
            &ListBucketsOptions::default()
                .max_keys(2)
                .marker(page.next_marker.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(next.buckets.len(), 2);
    assert!(!next.is_truncated);

    let elsewhere = client
        .list_buckets_with(&ListBucketsOptions::default().region("ap-beijing"))
        .await
        .unwrap();
    assert!(elsewhere.buckets.is_empty());
    let here = client
        .list_buckets_with(&ListBucketsOptions::default().region(emu.region()))
        .await
        .unwrap();
    assert_eq!(here.buckets.len(), 3);
    let tagged = client
        .list_buckets_with(&ListBucketsOptions::default().tag("team", "web"))
        .await
        .unwrap();
    assert_eq!(tagged.buckets.len(), 1);
    assert_eq!(tagged.buckets[0].name, "third-1250000000");
}

#[tokio::test]
async fn lifecycle_round_trips_and_missing_is_typed() {
    let (_emu, client) = setup().await;
    let e = client.get_bucket_lifecycle(BUCKET).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchLifecycleConfiguration"), "{e}");
    assert_eq!(e.status(), Some(404));

    let rules = vec![
        LifecycleRule::new("logs")
            .prefix("logs/")
            .transition_after_days(30, StorageClass::STANDARD_IA)
            .expire_after_days(365),
        LifecycleRule::new("leftovers").abort_incomplete_multipart_upload_after_days(7),
        LifecycleRule::new("archive-day")
            .prefix("old/")
            .expire_on("2030-01-01T00:00:00+08:00")
            .disabled(),
    ];
    client.put_bucket_lifecycle(BUCKET, &rules).await.unwrap();
    let got = client.get_bucket_lifecycle(BUCKET).await.unwrap();
    assert_eq!(got, rules);
    assert_eq!(
        got[2].expiration,
        Some(LifecycleTime::Date("2030-01-01T00:00:00+08:00".into()))
    );

    // A PUT replaces the whole configuration.
    let one = vec![LifecycleRule::new("tmp")
        .prefix("tmp/")
        .expire_after_days(1)];
    client.put_bucket_lifecycle(BUCKET, &one).await.unwrap();
    assert_eq!(client.get_bucket_lifecycle(BUCKET).await.unwrap(), one);

    client.delete_bucket_lifecycle(BUCKET).await.unwrap();
    let e = client.get_bucket_lifecycle(BUCKET).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchLifecycleConfiguration"), "{e}");

    let e = client
        .put_bucket_lifecycle(BUCKET, &[LifecycleRule::new("noop")])
        .await
        .unwrap_err();
    assert!(matches!(e, coscls::cos::Error::InvalidInput { .. }), "{e}");
}

#[tokio::test]
async fn sub_resource_requests_are_signature_checked() {
    let (emu, _client) = setup().await;
    let wrong = builder(&emu)
        .credentials(Credentials::new(support::SECRET_ID, "not-the-secret").unwrap())
        .build()
        .unwrap();
    for e in [
        wrong.get_bucket_lifecycle(BUCKET).await.unwrap_err(),
        wrong.get_bucket_acl(BUCKET).await.unwrap_err(),
        wrong.get_bucket_tagging(BUCKET).await.unwrap_err(),
        wrong.list_buckets().await.unwrap_err(),
    ] {
        assert_eq!(e.code(), Some("SignatureDoesNotMatch"), "{e}");
    }
    assert!(emu.stats().auth_failures >= 4);
}

/// An operation span's `rpc.method` and `tencent_cloud.cos.key`.
type MethodAndKey = (String, Option<String>);

/// The `rpc.method` and `tencent_cloud.cos.key` of every COS operation span
/// opened while it is the thread's subscriber.
#[derive(Clone, Default)]
struct OperationKeys(std::sync::Arc<std::sync::Mutex<Vec<MethodAndKey>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OperationKeys {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        #[derive(Default)]
        struct Fields {
            method: String,
            key: Option<String>,
        }
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "rpc.method" => self.method = value.to_string(),
                    "tencent_cloud.cos.key" => self.key = Some(value.to_string()),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if attrs.metadata().name() == "coscls.operation" {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            self.0.lock().unwrap().push((fields.method, fields.key));
        }
    }
}

#[tokio::test]
async fn object_tagging_and_acl_spans_name_the_key() {
    use tracing_subscriber::layer::SubscriberExt;
    let (_emu, client) = setup().await;
    client.put_object(BUCKET, "keyed.txt", "x").await.unwrap();
    let seen = OperationKeys::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(seen.clone()));
    client
        .put_object_tagging(BUCKET, "keyed.txt", None, &[("a", "1")])
        .await
        .unwrap();
    client
        .get_object_tagging(BUCKET, "keyed.txt", None)
        .await
        .unwrap();
    client
        .delete_object_tagging(BUCKET, "keyed.txt", None)
        .await
        .unwrap();
    client
        .put_object_acl(
            BUCKET,
            "keyed.txt",
            &AclOptions::object_canned(ObjectAcl::Private),
        )
        .await
        .unwrap();
    client.get_object_acl(BUCKET, "keyed.txt").await.unwrap();
    // No tag set yet: an error, but its span is opened all the same.
    let _ = client.get_bucket_tagging(BUCKET).await;
    let seen = seen.0.lock().unwrap().clone();
    for method in [
        "PutObjectTagging",
        "GetObjectTagging",
        "DeleteObjectTagging",
        "PutObjectACL",
        "GetObjectACL",
    ] {
        let keys: Vec<_> = seen.iter().filter(|(m, _)| m == method).collect();
        assert_eq!(
            keys,
            [&(method.to_string(), Some("keyed.txt".to_string()))],
            "{method}: {seen:?}"
        );
    }
    assert!(
        seen.contains(&("GetBucketTagging".to_string(), None)),
        "a bucket operation has no key: {seen:?}"
    );
}
