// Package uapitest is a fake V4L2 kernel at the uapi.Sys boundary. It records every call
// with the fields of its struct, plays capture devices (scripted frames, errors, unplugging)
// and M2M encoders (each queued OUTPUT buffer becomes a CAPTURE buffer), and tracks open fds
// and mappings so tests can prove nothing leaks.
package uapitest

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/device/uapi"
)

// Frame is a scripted capture result.
type Frame struct {
	Data      []byte
	Flags     uint32 // e.g. uapi.BufFlagKeyframe, uapi.BufFlagError
	Timestamp time.Duration
	// Err, when set, is returned by DQBUF instead of a frame (and marks the node gone if it is
	// ENODEV).
	Err error
}

// Node is one fake device node.
type Node struct {
	Driver, Card string
	Caps         uint32
	// Frames are delivered in order by the capture queue; when they run out poll times out.
	Frames []Frame
	// BufSize is the length of each buffer (default 64 KiB).
	BufSize int
	// MaxBuffers caps REQBUFS (default 8).
	MaxBuffers int
	// Formats accepted by S_FMT; another one is replaced by the first (as drivers do).
	Formats []uint32
	// Encode makes the node an M2M encoder: each OUTPUT buffer's bytes become a CAPTURE
	// buffer's; keyframe tells whether a FORCE_KEY_FRAME was pending.
	Encode func(in []byte, keyframe bool) []byte
	// Fail makes a request fail, by name (e.g. "VIDIOC_STREAMON"), with the error.
	Fail map[string]error
	// Gone makes Open fail with ENOENT and every ioctl on open fds with ENODEV.
	Gone bool

	// ControlDescs describe Controls (the node's controls and their values) for
	// VIDIOC_QUERYCTRL, which lists Controls in ID order (one without a description as
	// "Control <id>", with the whole int32 range).
	ControlDescs map[uint32]ControlDesc

	Controls map[uint32]int32
	fmts     map[uint32]uapi.Format
	parm     uapi.Fract
	queues   map[uint32]*queue
}

type queue struct {
	bufs      [][]byte
	queued    []uint32        // indexes owned by the driver, in order
	done      []done          // finished buffers waiting for DQBUF
	pending   map[uint32]done // bytes queued in OUTPUT buffers, by index
	streaming bool
}

type done struct {
	index uint32
	used  uint32
	flags uint32
	ts    time.Duration
	seq   uint32
}

// ControlDesc is what VIDIOC_QUERYCTRL says about a control. S_CTRL clamps a value to
// [Min, Max], as the kernel does for integer controls, and refuses what the kernel refuses:
// a read-only control or a control class (EACCES), a disabled one or one whose value is not
// a single 32-bit number (EINVAL). G_CTRL refuses a button or a class (EACCES: the kernel
// makes them write-only) and the non-32-bit ones (EINVAL).
type ControlDesc struct {
	Name              string
	Type              uint32 // uapi.CtrlType*; 0 is uapi.CtrlTypeInteger
	Min, Max, Default int32
	Flags             uint32
}

// typ is the control's type as QUERYCTRL reports it.
func (d ControlDesc) typ() uint32 {
	if d.Type == 0 {
		return uapi.CtrlTypeInteger
	}
	return d.Type
}

// isInt reports whether the control's value is a single 32-bit number, which S_CTRL and
// G_CTRL handle (the kernel's ctrl->is_int).
func (d ControlDesc) isInt() bool {
	switch d.typ() {
	case uapi.CtrlTypeInteger64, uapi.CtrlTypeString:
		return false
	}
	return d.typ() < uapi.CtrlTypeCompound
}

// Fake is the fake kernel; it implements uapi.Sys.
type Fake struct {
	mu     sync.Mutex
	nodes  map[string]*Node
	fds    map[int]*Node
	nextFD int
	maps   map[*byte]int
	calls  []string
	seq    uint32
	forced bool
}

// New returns a fake kernel with the given nodes by path.
func New(nodes map[string]*Node) *Fake {
	f := &Fake{nodes: nodes, fds: map[int]*Node{}, nextFD: 3, maps: map[*byte]int{}}
	for _, n := range nodes {
		n.init()
	}
	return f
}

func (n *Node) init() {
	if n.BufSize == 0 {
		n.BufSize = 64 << 10
	}
	if n.MaxBuffers == 0 {
		n.MaxBuffers = 8
	}
	if n.Controls == nil {
		n.Controls = map[uint32]int32{}
	}
	n.fmts = map[uint32]uapi.Format{}
	n.queues = map[uint32]*queue{}
}

// Node returns the node at path (to change its script while a test runs).
func (f *Fake) Node(path string) *Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[path]
}

// Update runs fn with the fake locked, to change nodes safely while a capture runs.
func (f *Fake) Update(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// Calls returns the recorded calls, one line each, e.g. "VIDIOC_REQBUFS type=1 count=4".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Requests returns just the request names of the recorded calls (open/close/mmap included).
func (f *Fake) Requests() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, strings.Fields(c)[0])
	}
	return out
}

// OpenFDs and Mappings count what is still open and mapped.
func (f *Fake) OpenFDs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fds)
}

// Mappings counts live mappings.
func (f *Fake) Mappings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.maps)
}

func (f *Fake) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Open implements uapi.Sys.
func (f *Fake) Open(path string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("open %s", path)
	n := f.nodes[path]
	if n == nil || n.Gone {
		return -1, fmt.Errorf("open %s: %w", path, unix.ENOENT)
	}
	fd := f.nextFD
	f.nextFD++
	f.fds[fd] = n
	// A new open starts from a fresh driver state, as after a replug.
	n.queues = map[uint32]*queue{}
	return fd, nil
}

// Close implements uapi.Sys.
func (f *Fake) Close(fd int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("close")
	if _, ok := f.fds[fd]; !ok {
		return unix.EBADF
	}
	delete(f.fds, fd)
	return nil
}

// Mmap implements uapi.Sys: it returns the buffer's backing array itself, so a test can
// check that frames are handed on without copying.
func (f *Fake) Mmap(fd int, offset int64, length int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("mmap offset=%#x len=%d", offset, length)
	n := f.fds[fd]
	if n == nil {
		return nil, unix.EBADF
	}
	typ, idx := uint32(offset>>24), int(offset&0xffffff)>>12
	q := n.queues[typ]
	if q == nil || idx >= len(q.bufs) || length != len(q.bufs[idx]) {
		return nil, unix.EINVAL
	}
	b := q.bufs[idx]
	f.maps[&b[0]]++
	return b, nil
}

// Munmap implements uapi.Sys.
func (f *Fake) Munmap(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("munmap len=%d", len(b))
	if len(b) == 0 || f.maps[&b[0]] == 0 {
		return unix.EINVAL
	}
	if f.maps[&b[0]]--; f.maps[&b[0]] == 0 {
		delete(f.maps, &b[0])
	}
	return nil
}

// Poll implements uapi.Sys without waiting: it reports what is ready now, or 0.
func (f *Fake) Poll(fd int, events int16, timeoutMS int) (int16, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.fds[fd]
	if n == nil {
		return 0, unix.EBADF
	}
	if n.Gone {
		return unix.POLLERR | unix.POLLHUP, nil
	}
	var rev int16
	for typ, q := range n.queues {
		if typ == uapi.BufTypeVideoCapture && q.streaming && len(q.queued) > 0 && len(n.Frames) > 0 {
			rev |= unix.POLLIN
		}
		if len(q.done) > 0 {
			if typ == uapi.BufTypeVideoOutputMplane {
				rev |= unix.POLLOUT
			} else {
				rev |= unix.POLLIN
			}
		}
	}
	if rev == 0 {
		// A timeout: yield so a test goroutine that changes the script gets to run.
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
		f.mu.Lock()
	}
	return rev & (events | unix.POLLERR | unix.POLLHUP), nil
}

// Ioctl implements uapi.Sys.
func (f *Fake) Ioctl(fd int, req uint, arg unsafe.Pointer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.fds[fd]
	name := uapi.RequestName(req)
	if n == nil {
		f.record("%s bad-fd", name)
		return unix.EBADF
	}
	line, err := f.ioctl(n, req, arg)
	f.record("%s", strings.TrimSpace(name+" "+line))
	return err
}

func (f *Fake) ioctl(n *Node, req uint, arg unsafe.Pointer) (string, error) {
	if n.Gone {
		return "", unix.ENODEV
	}
	if err := n.Fail[uapi.RequestName(req)]; err != nil {
		return "(fail)", err
	}
	switch req {
	case uapi.VIDIOC_QUERYCAP:
		c := (*uapi.Capability)(arg)
		copy(c.Driver[:], n.Driver)
		copy(c.Card[:], n.Card)
		c.Capabilities = n.Caps | uapi.CapDeviceCaps
		c.DeviceCaps = n.Caps
		return "", nil
	case uapi.VIDIOC_S_FMT:
		return f.sFmt(n, (*uapi.Format)(arg))
	case uapi.VIDIOC_G_FMT:
		fm := (*uapi.Format)(arg)
		if got, ok := n.fmts[fm.Type]; ok {
			*fm = got
		}
		return fmt.Sprintf("type=%d", fm.Type), nil
	case uapi.VIDIOC_S_PARM, uapi.VIDIOC_G_PARM:
		p := (*uapi.StreamParm)(arg)
		if req == uapi.VIDIOC_S_PARM {
			n.parm = p.Capture().TimePerFrame
		}
		p.Capture().TimePerFrame = n.parm
		p.Capture().Capability = uapi.CapTimePerFrame
		return fmt.Sprintf("type=%d timeperframe=%d/%d", p.Type, n.parm.Numerator, n.parm.Denominator), nil
	case uapi.VIDIOC_S_CTRL:
		c := (*uapi.Control)(arg)
		line := fmt.Sprintf("id=%#x value=%d", c.ID, c.Value)
		if _, ok := n.Controls[c.ID]; !ok {
			return line, unix.EINVAL
		}
		if d, ok := n.ControlDescs[c.ID]; ok {
			switch {
			case !d.isInt() || d.Flags&uapi.CtrlFlagDisabled != 0:
				return line, unix.EINVAL
			case d.typ() == uapi.CtrlTypeClass || d.Flags&uapi.CtrlFlagReadOnly != 0:
				return line, unix.EACCES
			}
			c.Value = max(d.Min, min(d.Max, c.Value))
		}
		n.Controls[c.ID] = c.Value
		if c.ID == uapi.CIDVideoForceKeyFrame {
			f.forced = true
		}
		return fmt.Sprintf("id=%#x value=%d", c.ID, c.Value), nil
	case uapi.VIDIOC_G_CTRL:
		c := (*uapi.Control)(arg)
		v, ok := n.Controls[c.ID]
		if !ok {
			return fmt.Sprintf("id=%#x", c.ID), unix.EINVAL
		}
		if d, ok := n.ControlDescs[c.ID]; ok {
			switch {
			case !d.isInt():
				return fmt.Sprintf("id=%#x", c.ID), unix.EINVAL
			case d.typ() == uapi.CtrlTypeButton || d.typ() == uapi.CtrlTypeClass || d.Flags&uapi.CtrlFlagWriteOnly != 0:
				return fmt.Sprintf("id=%#x", c.ID), unix.EACCES
			}
		}
		c.Value = v
		return fmt.Sprintf("id=%#x", c.ID), nil
	case uapi.VIDIOC_QUERYCTRL:
		return queryctrl(n, (*uapi.QueryCtrl)(arg))
	case uapi.VIDIOC_REQBUFS:
		return f.reqbufs(n, (*uapi.RequestBuffers)(arg))
	case uapi.VIDIOC_QUERYBUF, uapi.VIDIOC_QBUF, uapi.VIDIOC_DQBUF:
		return f.buffer(n, req, arg)
	case uapi.VIDIOC_STREAMON, uapi.VIDIOC_STREAMOFF:
		typ := uint32(*(*int32)(arg))
		q := n.queues[typ]
		if q == nil || len(q.bufs) == 0 {
			return fmt.Sprintf("type=%d", typ), unix.EINVAL
		}
		q.streaming = req == uapi.VIDIOC_STREAMON
		if !q.streaming {
			q.queued, q.done = nil, nil
		}
		f.encode(n)
		return fmt.Sprintf("type=%d", typ), nil
	}
	return "", unix.ENOTTY
}

// queryctrl describes the control q.ID, or with CtrlFlagNextCtrl the one after it.
func queryctrl(n *Node, q *uapi.QueryCtrl) (string, error) {
	line := fmt.Sprintf("id=%#x", q.ID)
	id, found := q.ID, false
	if next := q.ID&uapi.CtrlFlagNextCtrl != 0; next {
		after := q.ID &^ uapi.CtrlFlagNextCtrl
		for c := range n.Controls {
			if c > after && (!found || c < id) {
				id, found = c, true
			}
		}
	} else {
		_, found = n.Controls[id]
	}
	if !found {
		return line, unix.EINVAL
	}
	d, ok := n.ControlDescs[id]
	if !ok {
		d = ControlDesc{Name: fmt.Sprintf("Control %#x", id), Min: math.MinInt32, Max: math.MaxInt32}
	}
	*q = uapi.QueryCtrl{ID: id, Type: d.typ(), Minimum: d.Min, Maximum: d.Max, Step: 1,
		DefaultValue: d.Default, Flags: d.Flags}
	copy(q.Name[:len(q.Name)-1], d.Name)
	return line, nil
}

func (f *Fake) sFmt(n *Node, fm *uapi.Format) (string, error) {
	switch fm.Type {
	case uapi.BufTypeVideoCapture, uapi.BufTypeVideoOutput:
		p := fm.Pix()
		if len(n.Formats) > 0 && !contains(n.Formats, p.PixelFormat) {
			p.PixelFormat = n.Formats[0]
		}
		p.BytesPerLine = p.Width * 2
		p.SizeImage = uint32(n.BufSize)
		n.fmts[fm.Type] = *fm
		return fmt.Sprintf("type=%d %s %dx%d", fm.Type, uapi.FourCCString(p.PixelFormat), p.Width, p.Height), nil
	case uapi.BufTypeVideoCaptureMplane, uapi.BufTypeVideoOutputMplane:
		p := fm.PixMP()
		if len(n.Formats) > 0 && !contains(n.Formats, p.PixelFormat) {
			p.PixelFormat = n.Formats[0]
		}
		p.NumPlanes = 1
		p.PlaneFmt[0].SizeImage = uint32(n.BufSize)
		if p.PixelFormat != uapi.PixFmtH264 {
			p.PlaneFmt[0].BytesPerLine = p.Width
		}
		n.fmts[fm.Type] = *fm
		return fmt.Sprintf("type=%d %s %dx%d planes=%d", fm.Type, uapi.FourCCString(p.PixelFormat), p.Width, p.Height, p.NumPlanes), nil
	}
	return fmt.Sprintf("type=%d", fm.Type), unix.EINVAL
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (f *Fake) reqbufs(n *Node, r *uapi.RequestBuffers) (string, error) {
	line := fmt.Sprintf("type=%d count=%d memory=%d", r.Type, r.Count, r.Memory)
	if r.Memory != uapi.MemoryMMAP {
		return line, unix.EINVAL
	}
	q := n.queues[r.Type]
	if q == nil {
		q = &queue{}
		n.queues[r.Type] = q
	}
	if q.streaming {
		return line, unix.EBUSY
	}
	for _, b := range q.bufs {
		if f.maps[&b[0]] > 0 {
			// The kernel keeps mapped buffers alive; freeing them here would hide a leak.
			return line, unix.EBUSY
		}
	}
	count := min(int(r.Count), n.MaxBuffers)
	q.bufs, q.queued, q.done = nil, nil, nil
	for i := 0; i < count; i++ {
		q.bufs = append(q.bufs, make([]byte, n.BufSize))
	}
	r.Count = uint32(count)
	return line, nil
}

// offset encodes queue type and index in the fake's mmap offsets.
func offset(typ uint32, i int) uintptr { return uintptr(typ)<<24 | uintptr(i)<<12 }

func (f *Fake) buffer(n *Node, req uint, arg unsafe.Pointer) (string, error) {
	b := (*uapi.Buffer)(arg)
	mplane := b.Type == uapi.BufTypeVideoCaptureMplane || b.Type == uapi.BufTypeVideoOutputMplane
	var planes []uapi.Plane
	if mplane {
		bm := (*uapi.BufferMplane)(arg)
		if bm.Planes == nil || bm.Length < 1 {
			return fmt.Sprintf("type=%d index=%d no-planes", b.Type, b.Index), unix.EINVAL
		}
		planes = unsafe.Slice(bm.Planes, bm.Length)
	}
	line := fmt.Sprintf("type=%d index=%d", b.Type, b.Index)
	q := n.queues[b.Type]
	if q == nil || b.Memory != uapi.MemoryMMAP {
		return line, unix.EINVAL
	}
	switch req {
	case uapi.VIDIOC_QUERYBUF:
		if int(b.Index) >= len(q.bufs) {
			return line, unix.EINVAL
		}
		if mplane {
			planes[0].Length = uint32(len(q.bufs[b.Index]))
			planes[0].M = offset(b.Type, int(b.Index))
			b.Length = 1
		} else {
			b.Length = uint32(len(q.bufs[b.Index]))
			b.M = offset(b.Type, int(b.Index))
		}
		return line, nil
	case uapi.VIDIOC_QBUF:
		if int(b.Index) >= len(q.bufs) {
			return line, unix.EINVAL
		}
		for _, i := range q.queued {
			if i == b.Index {
				return line + " already-queued", unix.EINVAL
			}
		}
		used := uint32(0)
		if mplane {
			used = planes[0].BytesUsed
			line += fmt.Sprintf(" bytesused=%d", used)
		}
		q.queued = append(q.queued, b.Index)
		if b.Type == uapi.BufTypeVideoOutputMplane {
			q.pendingUsed(b.Index, used, time.Duration(b.Timestamp.Nano()))
		}
		f.encode(n)
		return line, nil
	case uapi.VIDIOC_DQBUF:
		if b.Type == uapi.BufTypeVideoCapture {
			if err := f.capture(n, q); err != nil {
				return fmt.Sprintf("type=%d", b.Type), err
			}
		}
		if len(q.done) == 0 {
			return fmt.Sprintf("type=%d", b.Type), unix.EAGAIN
		}
		d := q.done[0]
		q.done = q.done[1:]
		b.Index, b.Flags, b.Sequence = d.index, d.flags|uapi.BufFlagDone, d.seq
		b.Timestamp = unix.NsecToTimeval(int64(d.ts))
		if mplane {
			planes[0].BytesUsed = d.used
			b.Length = 1
		} else {
			b.BytesUsed = d.used
		}
		return fmt.Sprintf("type=%d -> index=%d bytesused=%d flags=%#x", b.Type, d.index, d.used, d.flags), nil
	}
	return line, unix.ENOTTY
}

func (q *queue) pendingUsed(index, used uint32, ts time.Duration) {
	if q.pending == nil {
		q.pending = map[uint32]done{}
	}
	q.pending[index] = done{index: index, used: used, ts: ts}
}

// capture fills the oldest queued capture buffer with the next scripted frame.
func (f *Fake) capture(n *Node, q *queue) error {
	if !q.streaming || len(q.queued) == 0 || len(n.Frames) == 0 {
		return nil
	}
	fr := n.Frames[0]
	n.Frames = n.Frames[1:]
	if fr.Err != nil {
		if fr.Err == unix.ENODEV {
			n.Gone = true
		}
		return fr.Err
	}
	idx := q.queued[0]
	q.queued = q.queued[1:]
	used := copy(q.bufs[idx], fr.Data)
	f.seq++
	q.done = append(q.done, done{index: idx, used: uint32(used), flags: fr.Flags, ts: fr.Timestamp, seq: f.seq})
	return nil
}

// encode turns queued OUTPUT buffers into CAPTURE buffers while both queues stream, copying
// the timestamp as bcm2835-codec does (V4L2_BUF_FLAG_TIMESTAMP_COPY).
func (f *Fake) encode(n *Node) {
	out, cap := n.queues[uapi.BufTypeVideoOutputMplane], n.queues[uapi.BufTypeVideoCaptureMplane]
	if n.Encode == nil || out == nil || cap == nil || !out.streaming || !cap.streaming {
		return
	}
	for len(out.queued) > 0 && len(cap.queued) > 0 {
		oi, ci := out.queued[0], cap.queued[0]
		out.queued, cap.queued = out.queued[1:], cap.queued[1:]
		in := out.pending[oi]
		res := n.Encode(out.bufs[oi][:in.used], f.forced)
		var flags uint32
		if f.forced {
			flags = uapi.BufFlagKeyframe
		}
		f.forced = false
		used := copy(cap.bufs[ci], res)
		f.seq++
		out.done = append(out.done, done{index: oi, used: in.used, ts: in.ts, seq: f.seq})
		cap.done = append(cap.done, done{index: ci, used: uint32(used), flags: flags | uapi.BufFlagTimestampCopy, ts: in.ts, seq: f.seq})
	}
}

// IsMapped reports whether p points into a live mapping (proof that a frame was handed on
// in place rather than copied).
func (f *Fake) IsMapped(p *byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		for _, q := range n.queues {
			for _, b := range q.bufs {
				if f.maps[&b[0]] > 0 && uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(&b[0])) &&
					uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b)) {
					return true
				}
			}
		}
	}
	return false
}

// Count returns how many recorded calls start with prefix.
func (f *Fake) Count(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}
