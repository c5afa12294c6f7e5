#!/usr/bin/env python3
"""gst-rtsp-server serving an Annex-B H.264 clip as a live camera would, for the load test.

Usage: gst-rtsp-server.py CLIP PORT
Needs python3-gi and gir1.2-gst-rtsp-server-1.0 (Debian). One shared media for all viewers
(set_shared), fed by a live appsrc: the clip's access units are pushed in real time at
30 fps and looped, neither encoded nor seekable, so that joiners join a running stream as
with a camera. Prints "ready" once the server listens on 127.0.0.1:PORT at /stream.
"""
import re
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

FPS = 30


def access_units(data):
    """Splits Annex-B data into access units: a unit ends before a non-VCL NAL unit that
    follows a slice, or before a slice whose first_mb_in_slice is 0 (a new picture)."""
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", data)]
    units, cur, has_vcl = [], [], False
    for i, s in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        nal = data[s:end].rstrip(b"\x00")
        if not nal:
            continue
        vcl = nal[0] & 0x1F in (1, 5)
        new_picture = vcl and len(nal) > 1 and nal[1] & 0x80
        if has_vcl and (not vcl or new_picture):
            units.append(b"".join(cur))
            cur, has_vcl = [], False
        cur.append(b"\x00\x00\x00\x01" + nal)
        has_vcl = has_vcl or vcl
    if cur:
        units.append(b"".join(cur))
    return units


def main():
    clip, port = sys.argv[1], sys.argv[2]
    with open(clip, "rb") as f:
        units = access_units(f.read())
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( appsrc name=src is-live=true format=time do-timestamp=true "
        "caps=video/x-h264,stream-format=byte-stream,alignment=au,framerate=30/1 "
        "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(True)

    def configure(_factory, media):
        src = media.get_element().get_by_name("src")
        state = {"n": 0, "start": time.monotonic()}

        def push():
            due = state["start"] + state["n"] / FPS
            while time.monotonic() >= due:
                unit = units[state["n"] % len(units)]
                if src.emit("push-buffer", Gst.Buffer.new_wrapped(unit)) != Gst.FlowReturn.OK:
                    return False  # the media was torn down
                state["n"] += 1
                due = state["start"] + state["n"] / FPS
            return True

        GLib.timeout_add(5, push)

    factory.connect("media-configure", configure)
    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        sys.exit(f"gst-rtsp-server: cannot listen on 127.0.0.1:{port}")
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
