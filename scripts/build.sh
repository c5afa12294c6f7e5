#!/usr/bin/env bash
# Builds camerad and rtspsim into $1 (default bin/<goos>_<goarch>) for GOOS/GOARCH. Both are
# pure Go (V4L2 goes through golang.org/x/sys/unix, see device/doc.go), so builds are static
# and cross builds need no C cross compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
goos=${GOOS:-$(go env GOOS)}
goarch=${GOARCH:-$(go env GOARCH)}
out=${1:-bin/${goos}_${goarch}}
# The version camerad reports (-version, the RTSP Server header, mDNS): VERSION, else what git
# says of the checkout (a tag, or the commit, "-dirty" with uncommitted changes).
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X main.version=$version"

export CGO_ENABLED=0 # static, whatever the environment says: the image has no libc
mkdir -p "$out"
for cmd in camerad rtspsim; do
	[[ -d cmd/$cmd ]] || continue
	GOOS=$goos GOARCH=$goarch go build -trimpath -tags netgo,osusergo -ldflags "$ldflags" -o "$out/$cmd" "./cmd/$cmd"
done
echo "build: $out (camerad $version, GOOS=$goos GOARCH=$goarch CGO_ENABLED=$CGO_ENABLED)"
