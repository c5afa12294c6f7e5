package rtspsrv

import (
	"sync"
	"testing"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/h264"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// BenchmarkPacketize compares, on the same GOP of access units, the work to turn one access
// unit into RTP packets ready for the socket: ours (packetize once, then one viewer's headers
// and iovecs) against pion/rtp's H264Payloader + Packetizer with each packet marshalled into
// a reused buffer (pion's cheapest path to bytes on the wire). ns/op and allocs/op are per
// access unit.
func BenchmarkPacketize(b *testing.B) {
	units := benchGOPUnits()
	var total int
	for _, u := range units {
		for _, n := range u {
			total += len(n)
		}
	}
	avg := int64(total / len(units))

	b.Run("camerad", func(b *testing.B) {
		pool := encoder.NewPool()
		p := packetizer{maxPayload: DefaultMaxPacketSize - rtpHeaderLen}
		v := &viewer{ssrc: 1}
		frames := sync.Pool{}
		f := &frame{pool: &frames}
		b.SetBytes(avg)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			au := benchAU(pool, units, i)
			f.au, f.keyframe, f.pts = au, au.Keyframe, au.PTS
			p.packetize(f, nil, nil)
			iov := v.buildPackets(f, -1)
			if len(iov) == 0 {
				b.Fatal("no packets")
			}
			au.Release()
		}
	})

	b.Run("pion", func(b *testing.B) {
		annexB := make([][]byte, len(units))
		for i, u := range units {
			annexB[i] = h264.AppendAnnexB(nil, u...)
		}
		pk := rtp.NewPacketizer(DefaultMaxPacketSize, payloadTypeH264, 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), clockRate)
		wire := make([]byte, DefaultMaxPacketSize+64)
		b.SetBytes(avg)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			pkts := pk.Packetize(annexB[i%len(annexB)], clockRate/benchFPS)
			if len(pkts) == 0 {
				b.Fatal("no packets")
			}
			for _, p := range pkts {
				if _, err := p.MarshalTo(wire); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
