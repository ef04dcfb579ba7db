"""Drives the official Tencent Cloud Python SDKs against a running coscls-emulator.

Usage: drive.py http://127.0.0.1:PORT
Env:   EMU_SECRET_ID / EMU_SECRET_KEY (accepted credentials),
       EMU_STS_ID / EMU_STS_KEY / EMU_STS_TOKEN (accepted temporary credentials).

The COS SDK reaches the emulator through its proxy setting (absolute-form
request targets, virtual-hosted Host header), exactly as it would reach COS.
Every check prints PASS/FAIL; the last line is `interop: N passed, M failed`.
"""

import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
import urllib.error
import urllib.request
from urllib.parse import unquote

import crcmod
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError
from tencentcloud.log.cls_pb2 import LogGroupList
from tencentcloud.log.logclient import LogClient
from tencentcloud.log.logexception import LogException

ENDPOINT = sys.argv[1].rstrip("/")
PROXY = {"http": ENDPOINT}
REGION = "ap-guangzhou"
BUCKET = "interop-1250000000"
SECRET_ID = os.environ["EMU_SECRET_ID"]
SECRET_KEY = os.environ["EMU_SECRET_KEY"]
STS_ID = os.environ["EMU_STS_ID"]
STS_KEY = os.environ["EMU_STS_KEY"]
STS_TOKEN = os.environ["EMU_STS_TOKEN"]
TOPIC = "0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11"

logging.basicConfig(level=logging.WARNING)
# The SDK logs every refused request at ERROR; several checks expect refusals.
logging.getLogger("qcloud_cos").setLevel(logging.CRITICAL)
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)

results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, True))
            print(f"PASS {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, none is fatal
            results.append((name, False))
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        return fn
    return wrap


def cos_client(secret_id=SECRET_ID, secret_key=SECRET_KEY, token=None):
    config = CosConfig(Region=REGION, SecretId=secret_id, SecretKey=secret_key, Token=token,
                       Scheme="http", Proxies=PROXY)
    return CosS3Client(config, retry=1)


def admin(path, method="GET", body=None):
    req = urllib.request.Request(ENDPOINT + "/_emulator/" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def expect_cos_error(fn, status, code):
    try:
        fn()
    except CosServiceError as e:
        assert e.get_status_code() == status, (e.get_status_code(), e.get_error_code(), e.get_error_msg())
        if code is not None:
            assert e.get_error_code() == code, (e.get_error_code(), e.get_error_msg())
        return e
    raise AssertionError(f"expected {status} {code}, the request succeeded")


client = cos_client()
payload = b"hello from the official Python SDK \xe4\xbd\xa0\xe5\xa5\xbd\n" * 100
KEY = "docs/report 2024+final.txt"


@check("PutBucket + HeadBucket")
def _():
    client.create_bucket(Bucket=BUCKET)
    head = client.head_bucket(Bucket=BUCKET)
    assert head is not None
    expect_cos_error(lambda: client.create_bucket(Bucket=BUCKET), 409, "BucketAlreadyOwnedByYou")


@check("PutObject with metadata, ETag and CRC64")
def _():
    resp = client.put_object(Bucket=BUCKET, Key=KEY, Body=payload, ContentType="text/plain",
                             Metadata={"x-cos-meta-author": "interop"}, EnableMD5=True)
    assert resp["ETag"].strip('"') == hashlib.md5(payload).hexdigest(), resp
    assert int(resp["x-cos-hash-crc64ecma"]) == crc64(payload), resp


@check("GetObject (whole, Range, response-* override)")
def _():
    resp = client.get_object(Bucket=BUCKET, Key=KEY)
    assert resp["Body"].get_raw_stream().read() == payload
    assert resp["x-cos-meta-author"] == "interop"
    assert resp["Content-Type"] == "text/plain"
    part = client.get_object(Bucket=BUCKET, Key=KEY, Range="bytes=6-9")
    assert part["Body"].get_raw_stream().read() == payload[6:10]
    assert part["Content-Range"] == f"bytes 6-9/{len(payload)}", part["Content-Range"]
    over = client.get_object(Bucket=BUCKET, Key=KEY, ResponseContentType="application/x-test")
    assert over["Content-Type"] == "application/x-test"
    over["Body"].get_raw_stream().read()


@check("HeadObject and NoSuchKey")
def _():
    head = client.head_object(Bucket=BUCKET, Key=KEY)
    assert int(head["Content-Length"]) == len(payload)
    assert head["x-cos-meta-author"] == "interop"
    expect_cos_error(lambda: client.head_object(Bucket=BUCKET, Key="missing"), 404, None)
    e = expect_cos_error(lambda: client.get_object(Bucket=BUCKET, Key="missing"), 404, "NoSuchKey")
    assert e.get_request_id(), "x-cos-request-id in the error"


@check("GET Bucket: prefix, delimiter, paging with NextMarker")
def _():
    for k in ["list/a/1", "list/a/2", "list/b/1", "list/c", "list/d"]:
        client.put_object(Bucket=BUCKET, Key=k, Body=b"x")
    resp = client.list_objects(Bucket=BUCKET, Prefix="list/", Delimiter="/")
    prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    keys = [c["Key"] for c in resp.get("Contents", [])]
    assert prefixes == ["list/a/", "list/b/"], prefixes
    assert keys == ["list/c", "list/d"], keys
    seen, marker = [], ""
    while True:
        page = client.list_objects(Bucket=BUCKET, Prefix="list/", MaxKeys=2, Marker=marker)
        seen += [c["Key"] for c in page.get("Contents", [])]
        if page["IsTruncated"] != "true":
            break
        marker = page["NextMarker"]
    assert seen == ["list/a/1", "list/a/2", "list/b/1", "list/c", "list/d"], seen
    # Asking for url encoding explicitly, the SDK leaves the decoding to us.
    url = client.list_objects(Bucket=BUCKET, Prefix="docs/", EncodingType="url")
    assert [unquote(c["Key"]) for c in url["Contents"]] == [KEY], url["Contents"]
    assert url["Contents"][0]["Key"] != KEY, "keys come back encoded" 


@check("CopyObject")
def _():
    resp = client.copy_object(Bucket=BUCKET, Key="copy.txt",
                              CopySource={"Bucket": BUCKET, "Key": KEY, "Region": REGION})
    assert resp["ETag"].strip('"') == hashlib.md5(payload).hexdigest(), resp
    got = client.get_object(Bucket=BUCKET, Key="copy.txt")["Body"].get_raw_stream().read()
    assert got == payload


@check("DeleteObject and DeleteMultipleObjects")
def _():
    client.delete_object(Bucket=BUCKET, Key="copy.txt")
    expect_cos_error(lambda: client.head_object(Bucket=BUCKET, Key="copy.txt"), 404, None)
    resp = client.delete_objects(Bucket=BUCKET, Delete={
        "Object": [{"Key": k} for k in ["list/a/1", "list/a/2", "list/b/1", "list/c", "list/d"]],
        "Quiet": "false"})
    assert len(resp["Deleted"]) == 5, resp
    left = client.list_objects(Bucket=BUCKET, Prefix="list/")
    assert "Contents" not in left, left


big = os.urandom(3 * 1024 * 1024 + 123457)
workdir = tempfile.mkdtemp(prefix="coscls-interop-")
big_path = os.path.join(workdir, "big.bin")
with open(big_path, "wb") as f:
    f.write(big)


@check("upload_file: multipart with 1 MB parts")
def _():
    client.upload_file(Bucket=BUCKET, Key="big/object.bin", LocalFilePath=big_path, PartSize=1, MAXThread=3)
    head = client.head_object(Bucket=BUCKET, Key="big/object.bin")
    assert int(head["Content-Length"]) == len(big)
    assert head["ETag"].strip('"').endswith("-4"), head["ETag"]
    assert int(head["x-cos-hash-crc64ecma"]) == crc64(big), head
    stats = admin("stats")
    assert stats["operations"].get("UploadPart", 0) >= 4, stats["operations"]
    assert stats["operations"].get("CompleteMultipartUpload", 0) >= 1, stats["operations"]


@check("download_file: ranged, threaded, CRC-checked")
def _():
    dest = os.path.join(workdir, "down.bin")
    client.download_file(Bucket=BUCKET, Key="big/object.bin", DestFilePath=dest, PartSize=1,
                         MAXThread=3, EnableCRC=True, DumpRecordDir=workdir)
    with open(dest, "rb") as f:
        assert f.read() == big


@check("presigned URL fetched with a plain HTTP client")
def _():
    url = client.get_presigned_url(Bucket=BUCKET, Key=KEY, Method="GET", Expired=300)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(PROXY))
    with opener.open(url, timeout=10) as resp:
        assert resp.read() == payload
    tampered = url.replace("q-signature=", "q-signature=0")
    try:
        opener.open(tampered, timeout=10)
        raise AssertionError("a tampered presigned URL was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code
        assert b"SignatureDoesNotMatch" in e.read()


@check("temporary credentials: token required")
def _():
    sts = cos_client(STS_ID, STS_KEY, STS_TOKEN)
    sts.put_object(Bucket=BUCKET, Key="sts.txt", Body=b"sts")
    assert sts.get_object(Bucket=BUCKET, Key="sts.txt")["Body"].get_raw_stream().read() == b"sts"
    no_token = cos_client(STS_ID, STS_KEY)
    expect_cos_error(lambda: no_token.head_object(Bucket=BUCKET, Key="sts.txt"), 403, None)


@check("wrong secret key and unknown SecretId are refused (COS)")
def _():
    wrong = cos_client(SECRET_ID, SECRET_KEY + "x")
    e = expect_cos_error(lambda: wrong.get_object(Bucket=BUCKET, Key=KEY), 403, "SignatureDoesNotMatch")
    assert "StringToSign" in e.get_origin_msg(), e.get_origin_msg()
    unknown = cos_client("AKIDnobody", SECRET_KEY)
    expect_cos_error(lambda: unknown.get_object(Bucket=BUCKET, Key=KEY), 403, "InvalidAccessKeyId")


@check("injected 503 SlowDown is retried by the SDK")
def _():
    before = admin("stats")["operations"].get("PutObject", 0)
    admin("faults", "PUT", {"fail_next": 1, "error_status": 503})
    client.put_object(Bucket=BUCKET, Key="retried.txt", Body=b"r")
    after = admin("stats")["operations"].get("PutObject", 0)
    assert after - before == 2, (before, after)
    assert admin("faults")["fail_next"] == 0


@check("versioning: put/get state, versions, delete marker, list and read by version")
def _():
    vb = "interop-versions-1250000000"
    client.create_bucket(Bucket=vb)
    assert "Status" not in (client.get_bucket_versioning(Bucket=vb) or {})
    client.put_bucket_versioning(Bucket=vb, Status="Enabled")
    assert client.get_bucket_versioning(Bucket=vb)["Status"] == "Enabled"
    ids = [client.put_object(Bucket=vb, Key="v k", Body=body)["x-cos-version-id"]
           for body in (b"one", b"two")]
    marker = client.delete_object(Bucket=vb, Key="v k")
    assert marker["x-cos-delete-marker"] == "true", marker
    expect_cos_error(lambda: client.get_object(Bucket=vb, Key="v k"), 404, "NoSuchKey")
    listed = client.list_objects_versions(Bucket=vb, MaxKeys=1000)
    assert [v["VersionId"] for v in listed["Version"]] == ids[::-1], listed
    assert [m["VersionId"] for m in listed["DeleteMarker"]] == [marker["x-cos-version-id"]], listed
    old = client.get_object(Bucket=vb, Key="v k", VersionId=ids[0])
    assert old["Body"].get_raw_stream().read() == b"one"
    client.delete_object(Bucket=vb, Key="v k", VersionId=ids[0])
    expect_cos_error(lambda: client.get_object(Bucket=vb, Key="v k", VersionId=ids[0]), 404,
                     "NoSuchVersion")


def log_group_list():
    lgl = LogGroupList()
    group = lgl.logGroupList.add()
    group.filename = "/var/log/app.log"
    group.source = "10.0.0.1"
    tag = group.logTags.add()
    tag.key, tag.value = "env", "prod"
    for i, (level, msg) in enumerate([("INFO", "hello"), ("ERROR", "boom 你好")]):
        log = group.logs.add()
        log.time = 1700000000123 + i
        for k, v in [("level", level), ("msg", msg)]:
            c = log.contents.add()
            c.key, c.value = k, v
    return lgl


@check("CLS put_log_raw (lz4) read back through /_emulator")
def _():
    cls = LogClient(ENDPOINT, SECRET_ID, SECRET_KEY, source="10.0.0.1")
    resp = cls.put_log_raw(TOPIC, log_group_list())
    assert resp.get_request_id(), "X-Cls-Requestid"
    logs = admin(f"cls/{TOPIC}/logs")
    assert [l["contents"]["msg"] for l in logs] == ["hello", "boom 你好"], logs
    assert logs[0]["tags"] == {"env": "prod"} and logs[0]["filename"] == "/var/log/app.log", logs[0]
    assert logs[1]["time"] == 1700000000124


@check("CLS with temporary credentials (X-Cls-Token)")
def _():
    cls = LogClient(ENDPOINT, STS_ID, STS_KEY, security_token=STS_TOKEN, source="10.0.0.1")
    cls.put_log_raw(TOPIC + "-sts", log_group_list())
    assert len(admin(f"cls/{TOPIC}-sts/logs")) == 2


@check("wrong secret key is refused (CLS 401)")
def _():
    cls = LogClient(ENDPOINT, SECRET_ID, SECRET_KEY + "x", source="10.0.0.1")
    try:
        cls.put_log_raw(TOPIC + "-wrong", log_group_list())
        raise AssertionError("a wrong key was accepted")
    except LogException as e:
        assert e.resp_status == 401, (e.resp_status, e.get_error_code())
        assert e.get_error_code() == "Unauthorized", e.get_error_code()
    assert admin(f"cls/{TOPIC}-wrong/logs") == []


shutil.rmtree(workdir, ignore_errors=True)
passed = sum(1 for _, ok in results if ok)
failed = len(results) - passed
print(f"interop: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
