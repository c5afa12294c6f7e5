#!/usr/bin/env bash
# Builds camerad and rtspsim (or the commands named after it) into $1 (default
# bin/<goos>_<goarch>) for GOOS/GOARCH, exactly as the image ships them. Both are pure Go (V4L2
# goes through golang.org/x/sys/unix, see device/doc.go), so builds are static and cross
# builds need no C cross compiler. make run and the load test build here too, so that what is
# run and measured on this machine is the shipped binary: a default cgo build links libc and
# ld.so, about 1.3 MB more resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
goos=${GOOS:-$(go env GOOS)}
goarch=${GOARCH:-$(go env GOARCH)}
out=${1:-bin/${goos}_${goarch}}
cmds=("${@:2}")
[[ ${#cmds[@]} -gt 0 ]] || cmds=(camerad rtspsim)
# The version camerad reports (-version, the RTSP Server header, mDNS): VERSION, else what git
# says of the checkout (a tag, or the commit, "-dirty" with uncommitted changes).
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X main.version=$version"

export CGO_ENABLED=0 # static, whatever the environment says: the image has no libc
mkdir -p "$out"
for cmd in "${cmds[@]}"; do
	[[ -d cmd/$cmd ]] || { echo "build: no command cmd/$cmd" >&2; exit 1; }
	GOOS=$goos GOARCH=$goarch go build -trimpath -tags netgo,osusergo -ldflags "$ldflags" -o "$out/$cmd" "./cmd/$cmd"
done
echo "build: $out (camerad $version, GOOS=$goos GOARCH=$goarch CGO_ENABLED=$CGO_ENABLED)"
