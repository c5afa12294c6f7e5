// Command ntpserver is the image test's time server: a minimal SNTP server (RFC 4330) on
// the host that the VM reaches through qemu's user network (10.0.2.2 is the host), serving
// the host's time shifted by -offset so that the test can see the camera step its clock.
// It is a test fixture, not a time service.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

// ntpEpochOffset is the seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpEpochOffset = 2208988800

func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

func main() {
	listen := flag.String("listen", "127.0.0.1:1123", "UDP address to answer on")
	offset := flag.Duration("offset", 0, "added to the host's time in every answer")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Error("listen", "addr", *listen, "err", err)
		os.Exit(1)
	}
	log.Info("ntp test server", "addr", conn.LocalAddr().String(), "offset", *offset)
	if err := serve(log, conn, *offset); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// serve answers every request on conn until reading fails.
func serve(log *slog.Logger, conn net.PacketConn, offset time.Duration) error {
	buf := make([]byte, 512)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		recv := time.Now().Add(offset)
		if n < 48 {
			continue
		}
		req := buf[:48]
		var resp [48]byte
		version := (req[0] >> 3) & 7
		resp[0] = 0<<6 | version<<3 | 4 // no leap warning, client's version, mode 4 (server)
		resp[1] = 1                     // stratum 1: a primary reference
		resp[2] = req[2]                // poll
		resp[3] = 0xec                  // precision ~2^-20 s
		copy(resp[12:16], "LOCL")
		binary.BigEndian.PutUint64(resp[16:], ntpTime(recv.Add(-time.Second))) // reference time
		copy(resp[24:32], req[40:48])                                          // originate = client's transmit
		binary.BigEndian.PutUint64(resp[32:], ntpTime(recv))
		binary.BigEndian.PutUint64(resp[40:], ntpTime(time.Now().Add(offset)))
		if _, err := conn.WriteTo(resp[:], peer); err != nil {
			log.Warn("write", "peer", peer.String(), "err", err)
			continue
		}
		log.Info("answered", "peer", peer.String())
	}
}
