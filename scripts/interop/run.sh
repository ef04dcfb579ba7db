#!/usr/bin/env bash
# Installs the official Tencent Cloud Python SDKs from PyPI into a virtualenv
# and drives them against a freshly started coscls-emulator.
# Exit status is non-zero on any failure; the last line reports the counts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

COS_SDK_VERSION="1.9.44"
CLS_SDK_VERSION="1.0.9"

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv"; then
    echo "interop: cannot create a virtualenv with $python (on Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "cos-python-sdk-v5==$COS_SDK_VERSION" "tencentcloud-cls-sdk-python==$CLS_SDK_VERSION"

(cd "$root" && cargo build --quiet -p coscls-emulator)
bin="$root/target/debug/coscls-emulator"

export EMU_SECRET_ID="AKIDinteropTest0001"
export EMU_SECRET_KEY="interop-secret-key-0001"
export EMU_STS_ID="AKIDinteropSts0001"
export EMU_STS_KEY="interop-sts-key-0001"
export EMU_STS_TOKEN="interop-sts-token+/=0001"

log="$(mktemp)"
"$bin" --listen 127.0.0.1:0 \
  --secret-id "$EMU_SECRET_ID" --secret-key "$EMU_SECRET_KEY" \
  --credentials "$EMU_STS_ID:$EMU_STS_KEY:$EMU_STS_TOKEN" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

endpoint=""
for _ in $(seq 1 100); do
  endpoint="$(sed -n 's/^coscls-emulator listening on \(http:[^ ]*\)$/\1/p' "$log")"
  [ -n "$endpoint" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "interop: the emulator exited early:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$endpoint" ]; then
  echo "interop: the emulator did not report its address" >&2
  cat "$log" >&2
  exit 1
fi
echo "interop: emulator at $endpoint"
"$venv/bin/python" "$here/drive.py" "$endpoint"
