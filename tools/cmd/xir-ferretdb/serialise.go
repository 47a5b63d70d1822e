package main

// MongoDB applies each single-document write atomically; FerretDB does not (it reads the
// document, changes it in Go and writes it back, with no lock), so two concurrent updates of
// one document can lose one another's changes. The services are written for MongoDB, so this
// wrapper, not their code, makes up for it: it sits in front of FerretDB on the wire and lets
// one write command through at a time, until that command's reply has come back. Reads are
// not held up.

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
)

const (
	opMsg       = 2013
	headerBytes = 16
	// The largest message MongoDB accepts (48 MB); anything larger is not a message.
	maxMessageBytes = 48_000_000
)

// Commands that change documents.
var writeCommands = map[string]bool{
	"insert":        true,
	"update":        true,
	"delete":        true,
	"findandmodify": true,
}

// serialisingProxy accepts MongoDB clients on listener and relays each connection to FerretDB
// through dial, holding writes one at a time.
type serialisingProxy struct {
	dial   func() (net.Conn, error)
	writes sync.Mutex
	logger *slog.Logger
}

func (p *serialisingProxy) serve(listener net.Listener) error {
	for {
		client, err := listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go p.relay(client)
	}
}

func (p *serialisingProxy) relay(client net.Conn) {
	defer client.Close()
	backend, err := p.dial()
	if err != nil {
		p.logger.Warn("cannot reach FerretDB", "error", err)
		return
	}
	defer backend.Close()

	// The request id of the write in flight on this connection, if any; the lock is held
	// from its request until its reply.
	var mu sync.Mutex
	pending := int32(0)
	holding := false
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		if holding {
			holding = false
			pending = 0
			p.writes.Unlock()
		}
	}
	defer release()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			message, err := readMessage(backend)
			if err != nil {
				client.Close()
				return
			}
			if _, err := client.Write(message); err != nil {
				return
			}
			responseTo := int32(binary.LittleEndian.Uint32(message[8:12]))
			mu.Lock()
			isReply := holding && responseTo == pending
			mu.Unlock()
			if isReply {
				release()
			}
		}
	}()

	for {
		message, err := readMessage(client)
		if err != nil {
			break
		}
		write := isWrite(message)
		if write {
			p.writes.Lock()
		}
		if write && expectsReply(message) {
			mu.Lock()
			holding = true
			pending = int32(binary.LittleEndian.Uint32(message[4:8]))
			mu.Unlock()
		}
		_, err = backend.Write(message)
		if write && !expectsReply(message) {
			p.writes.Unlock() // an unacknowledged write: nothing comes back to wait for
		}
		if err != nil {
			break
		}
	}
	backend.Close()
	<-done
}

// expectsReply is false for an OP_MSG with moreToCome set (an unacknowledged write).
func expectsReply(message []byte) bool {
	const moreToCome = 1 << 1
	flags := binary.LittleEndian.Uint32(message[headerBytes : headerBytes+4])
	return flags&moreToCome == 0
}

// readMessage reads one wire-protocol message, header included.
func readMessage(conn io.Reader) ([]byte, error) {
	header := make([]byte, headerBytes)
	if _, err := io.ReadFull(conn, header); err != nil {
		return nil, err
	}
	length := int(binary.LittleEndian.Uint32(header[0:4]))
	if length < headerBytes || length > maxMessageBytes {
		return nil, errors.New("malformed message length")
	}
	message := make([]byte, length)
	copy(message, header)
	if _, err := io.ReadFull(conn, message[headerBytes:]); err != nil {
		return nil, err
	}
	return message, nil
}

// isWrite says whether an OP_MSG carries a write command: the first key of its body section
// (kind 0) names the command.
func isWrite(message []byte) bool {
	if int32(binary.LittleEndian.Uint32(message[12:16])) != opMsg || len(message) < headerBytes+5 {
		return false
	}
	sections := message[headerBytes+4:] // after flagBits
	for len(sections) > 0 {
		kind := sections[0]
		sections = sections[1:]
		switch kind {
		case 0:
			return writeCommands[strings.ToLower(firstKey(sections))]
		case 1: // a document sequence: int32 size (itself included), then its contents
			if len(sections) < 4 {
				return false
			}
			size := int(binary.LittleEndian.Uint32(sections[0:4]))
			if size < 4 || size > len(sections) {
				return false
			}
			sections = sections[size:]
		default:
			return false
		}
	}
	return false
}

// firstKey is the name of the first element of the BSON document at the start of doc.
func firstKey(doc []byte) string {
	// int32 length, then the first element: a type byte and a NUL-terminated name.
	if len(doc) < 6 {
		return ""
	}
	name := doc[5:]
	for i, b := range name {
		if b == 0 {
			return string(name[:i])
		}
	}
	return ""
}
