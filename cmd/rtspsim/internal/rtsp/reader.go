package rtsp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what the server may send, so a broken or hostile server cannot make the client
// buffer without bound.
const (
	maxLineBytes   = 8 << 10
	maxHeaderLines = 128
	maxBodyBytes   = 1 << 20
	// interleavedHeaderLen is `$`, channel and a 16-bit length (RFC 2326 10.12).
	interleavedHeaderLen = 4
)

// ItemKind says what Reader.Next found on the connection.
type ItemKind int

const (
	// ItemResponse is an answer to one of our requests.
	ItemResponse ItemKind = iota
	// ItemRequest is a request from the server (REDIRECT, ANNOUNCE, GET_PARAMETER, ...).
	ItemRequest
	// ItemFrame is a `$`-interleaved RTP or RTCP packet.
	ItemFrame
)

// Item is one message read from the connection. For ItemFrame, Payload aliases the reader's
// buffer and is valid only until the next call to Next: frames arrive at packet rate and are
// not copied.
type Item struct {
	Kind     ItemKind
	Response *Response
	Request  *Request
	Raw      []byte // a server request as received
	Channel  byte
	Payload  []byte
}

// Reader splits an RTSP client connection into responses, server requests and interleaved
// frames.
type Reader struct {
	br    *bufio.Reader
	frame [interleavedHeaderLen + 65535]byte
}

// NewReader wraps r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, maxLineBytes)}
}

// Next reads the next item.
func (r *Reader) Next() (Item, error) {
	first, err := r.br.Peek(1)
	if err != nil {
		return Item{}, err
	}
	if first[0] == '$' {
		return r.readFrame()
	}
	return r.readMessage()
}

func (r *Reader) readFrame() (Item, error) {
	if _, err := io.ReadFull(r.br, r.frame[:interleavedHeaderLen]); err != nil {
		return Item{}, fmt.Errorf("read interleaved header: %w", err)
	}
	n := int(binary.BigEndian.Uint16(r.frame[2:4]))
	p := r.frame[interleavedHeaderLen : interleavedHeaderLen+n]
	if _, err := io.ReadFull(r.br, p); err != nil {
		return Item{}, fmt.Errorf("read interleaved frame of %d bytes: %w", n, err)
	}
	return Item{Kind: ItemFrame, Channel: r.frame[1], Payload: p}, nil
}

func (r *Reader) readLine(raw *bytes.Buffer) (string, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("line longer than %d bytes", maxLineBytes)
	}
	if err != nil {
		return "", err
	}
	raw.Write(line)
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (r *Reader) readMessage() (Item, error) {
	var raw bytes.Buffer
	first, err := r.readLine(&raw)
	if err != nil {
		return Item{}, fmt.Errorf("read start line: %w", err)
	}
	// Tolerate stray empty lines between messages (some servers send CRLF keep-alives).
	for first == "" {
		raw.Reset()
		if first, err = r.readLine(&raw); err != nil {
			return Item{}, fmt.Errorf("read start line: %w", err)
		}
	}
	var hdr Header
	for {
		line, err := r.readLine(&raw)
		if err != nil {
			return Item{}, fmt.Errorf("read header: %w", err)
		}
		if line == "" {
			break
		}
		if len(hdr) >= maxHeaderLines {
			return Item{}, fmt.Errorf("more than %d header lines", maxHeaderLines)
		}
		f, err := parseHeaderLine(line)
		if err != nil {
			return Item{}, err
		}
		hdr = append(hdr, f)
	}
	var body []byte
	if cl := hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxBodyBytes {
			return Item{}, fmt.Errorf("bad Content-Length %q", cl)
		}
		body = make([]byte, n)
		if _, err := io.ReadFull(r.br, body); err != nil {
			return Item{}, fmt.Errorf("read body of %d bytes: %w", n, err)
		}
		raw.Write(body)
	}
	if strings.HasPrefix(first, "RTSP/") {
		resp := &Response{Header: hdr, Body: body, Raw: raw.Bytes()}
		if err := parseStatusLine(first, resp); err != nil {
			return Item{}, err
		}
		return Item{Kind: ItemResponse, Response: resp}, nil
	}
	parts := strings.Fields(first)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "RTSP/") {
		return Item{}, fmt.Errorf("malformed start line %q", first)
	}
	req := &Request{Method: parts[0], URL: parts[1], Header: hdr, Body: body}
	return Item{Kind: ItemRequest, Request: req, Raw: raw.Bytes()}, nil
}
