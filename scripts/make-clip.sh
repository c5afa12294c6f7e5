#!/usr/bin/env bash
# Regenerates encoder/clipsrc/clip.h264, the clip camerad streams by default when it has no
# camera. The clip is an Annex-B H.264 elementary stream made to behave like a camera:
#   - constrained baseline, no B-frames, so decode order is display order (no reordering,
#     PTS == arrival order, exactly what the clip source assumes);
#   - a fixed GOP of 30 frames (1 s) with scene-cut detection off, so keyframes come at known
#     places and a new viewer never waits more than a second;
#   - SPS and PPS repeated before every IDR (x264 repeat-headers), so every keyframe is a
#     complete entry point, as the encoder contract demands;
#   - VUI timing info (30 fps), so the clip source can pace it without being told the rate;
#   - no SEI: x264's own SEI embeds its version string and options, which would make the file
#     depend on the installed x264 build for no benefit (filter_units drops NAL type 6).
# The output is bit-exact for a given ffmpeg/x264 version (one thread, +bitexact, fixed
# options): `scripts/make-clip.sh --check` encodes twice and compares sha256 sums.
#
# Needs ffmpeg with libx264 (Debian: apt-get install ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/.."

out=encoder/clipsrc/clip.h264
maxbytes=$((1 << 20))

if ! command -v ffmpeg >/dev/null; then
	echo "make-clip: ffmpeg not found (apt-get install ffmpeg)" >&2
	exit 1
fi

encode() {
	ffmpeg -hide_banner -loglevel error -nostdin -y \
		-fflags +bitexact \
		-f lavfi -i "testsrc2=size=640x360:rate=30:duration=4" \
		-an -c:v libx264 -threads 1 \
		-flags:v +bitexact -fflags +bitexact \
		-profile:v baseline -level:v 3.0 -pix_fmt yuv420p \
		-bf 0 -g 30 -keyint_min 30 -sc_threshold 0 -crf 30 \
		-x264-params "repeat-headers=1:aud=0:threads=1:lookahead-threads=1:sliced-threads=0:rc-lookahead=0:ref=1" \
		-bsf:v "filter_units=remove_types=6" \
		-f h264 "$1"
}

case ${1:-} in
--check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	encode "$tmp/a.h264"
	encode "$tmp/b.h264"
	a=$(sha256sum <"$tmp/a.h264" | cut -d' ' -f1)
	b=$(sha256sum <"$tmp/b.h264" | cut -d' ' -f1)
	c=$(sha256sum <"$out" | cut -d' ' -f1)
	echo "run 1: $a"
	echo "run 2: $b"
	echo "tree:  $c ($out)"
	if [[ $a != "$b" ]]; then
		echo "make-clip: two encodes differ: not reproducible" >&2
		exit 1
	fi
	if [[ $a != "$c" ]]; then
		echo "make-clip: $out differs from a fresh encode (different ffmpeg/x264 version?)" >&2
		exit 1
	fi
	;;
"")
	encode "$out.tmp"
	size=$(stat -c %s "$out.tmp")
	if ((size > maxbytes)); then
		rm -f "$out.tmp"
		echo "make-clip: clip is $size bytes, over the $maxbytes byte budget" >&2
		exit 1
	fi
	mv "$out.tmp" "$out"
	echo "make-clip: wrote $out ($size bytes, sha256 $(sha256sum <"$out" | cut -d' ' -f1))"
	;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac
