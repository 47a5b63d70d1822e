package main

// MongoDB applies each single-document write atomically; FerretDB does not (it reads the
// document, changes it in Go and writes it back, with no lock), so two concurrent updates of
// one document can lose one another's changes. The services are written for MongoDB, so this
// wrapper, not their code, makes up for it: it sits in front of FerretDB on the wire and lets
// one update, delete or findAndModify per collection through at a time, until that command's
// reply has come back. A write command names one collection, so writes to different
// collections cannot touch one document and run side by side (SQLite itself orders their
// commits). Reads and inserts are not held up.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

const (
	opMsg       = 2013
	headerBytes = 16
	// The largest message MongoDB accepts (48 MB); anything larger is not a message.
	maxMessageBytes = 48_000_000
)

// Commands that read a document and write it back, each taking its collection's lock. An
// insert is not one of them: it writes a document nobody has yet, so it cannot lose another
// write's change (a duplicate _id or unique key is refused by SQLite's unique index, as by
// MongoDB's), and it need not wait for a long update of other documents, as on MongoDB, whose
// locks are per document.
var writeCommands = map[string]bool{
	"update":        true,
	"delete":        true,
	"findandmodify": true,
}

// serialisingProxy accepts MongoDB clients on listener and relays each connection to FerretDB
// through dial, holding writes to each collection one at a time.
type serialisingProxy struct {
	dial   func() (net.Conn, error)
	logger *slog.Logger
	stats  *commandStats // nil unless asked for

	mu     sync.Mutex
	writes map[string]*sync.Mutex // by collection name
}

// lockOf is the lock of the writes to collection.
func (p *serialisingProxy) lockOf(collection string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.writes == nil {
		p.writes = make(map[string]*sync.Mutex)
	}
	lock, ok := p.writes[collection]
	if !ok {
		lock = new(sync.Mutex)
		p.writes[collection] = lock
	}
	return lock
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

	// The write commands of this connection awaiting their reply, by request id, with the
	// lock each holds until then; and, when commands are timed, every command awaiting one.
	var mu sync.Mutex
	holding := map[int32]*sync.Mutex{}
	inFlight := map[int32]askedCommand{}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for id, lock := range holding {
			lock.Unlock()
			delete(holding, id)
		}
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			message, err := readMessage(backend)
			if err != nil {
				client.Close()
				return
			}
			// The lock goes before the reply does: once the client has the reply it may send
			// its next write at once, and that one must find the lock free.
			responseTo := int32(binary.LittleEndian.Uint32(message[8:12]))
			mu.Lock()
			if lock, ok := holding[responseTo]; ok {
				lock.Unlock()
				delete(holding, responseTo)
			}
			asked, timed := inFlight[responseTo]
			delete(inFlight, responseTo)
			mu.Unlock()
			if timed {
				p.stats.record(asked.key, time.Since(asked.at))
			}
			if _, err := client.Write(message); err != nil {
				return
			}
		}
	}()

	for {
		message, err := readMessage(client)
		if err != nil {
			break
		}
		command, collection := commandOf(message)
		write := writeCommands[strings.ToLower(command)]
		if p.stats != nil && command != "" && expectsReply(message) {
			mu.Lock()
			key := command + " " + collection
			if shape := filterShape(message); shape != "" {
				key += " " + shape
			}
			inFlight[requestID(message)] = askedCommand{key: key, at: time.Now()}
			mu.Unlock()
		}
		var lock *sync.Mutex
		if write {
			lock = p.lockOf(collection)
			lock.Lock()
		}
		if write && expectsReply(message) {
			mu.Lock()
			holding[requestID(message)] = lock
			mu.Unlock()
		}
		_, err = backend.Write(message)
		if write && !expectsReply(message) {
			lock.Unlock() // an unacknowledged write: nothing comes back to wait for
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

func requestID(message []byte) int32 {
	return int32(binary.LittleEndian.Uint32(message[4:8]))
}

// commandOf is the command an OP_MSG carries and the collection it names: the first element of
// its body names the command, its value the collection ("" when not a string).
func commandOf(message []byte) (command, collection string) {
	return firstElement(bodyOf(message))
}

// bodyOf is the body section (kind 0) of an OP_MSG: the command document; nil for any other
// message.
func bodyOf(message []byte) []byte {
	if int32(binary.LittleEndian.Uint32(message[12:16])) != opMsg || len(message) < headerBytes+5 {
		return nil
	}
	sections := message[headerBytes+4:] // after flagBits
	for len(sections) > 0 {
		kind := sections[0]
		sections = sections[1:]
		switch kind {
		case 0:
			return sections
		case 1: // a document sequence: int32 size (itself included), then its contents
			if len(sections) < 4 {
				return nil
			}
			size := int(binary.LittleEndian.Uint32(sections[0:4]))
			if size < 4 || size > len(sections) {
				return nil
			}
			sections = sections[size:]
		default:
			return nil
		}
	}
	return nil
}

// filterShape names the fields a find command filters on ("{author_id,deleted_at}"), so the
// stats tell apart the queries on one collection; "" for other commands.
func filterShape(message []byte) string {
	body := bsoncore.Document(bodyOf(message))
	length, _, ok := bsoncore.ReadLength(body)
	if !ok || int(length) > len(body) {
		return ""
	}
	body = body[:length]
	if command, _ := firstElement(body); command != "find" {
		return ""
	}
	filter, ok := body.Lookup("filter").DocumentOK()
	if !ok {
		return ""
	}
	elements, err := filter.Elements()
	if err != nil {
		return ""
	}
	names := make([]string, 0, len(elements))
	for _, element := range elements {
		names = append(names, element.Key())
	}
	return "{" + strings.Join(names, ",") + "}"
}

// firstElement is the name of the first element of the BSON document at the start of doc and,
// when that element is a string, its value ("" otherwise: such writes share one lock).
func firstElement(doc []byte) (name, value string) {
	// int32 length, then the first element: a type byte and a NUL-terminated name.
	if len(doc) < 6 {
		return "", ""
	}
	const bsonString = 0x02
	kind, rest := doc[4], doc[5:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return "", ""
	}
	name, rest = string(rest[:end]), rest[end+1:]
	// A string: int32 length (its NUL included), the bytes, NUL.
	if kind != bsonString || len(rest) < 4 {
		return name, ""
	}
	length := int(binary.LittleEndian.Uint32(rest[0:4]))
	if length < 1 || length > len(rest)-4 {
		return name, ""
	}
	return name, string(rest[4 : 4+length-1])
}
