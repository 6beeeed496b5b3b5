package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The minimal server reads each request's line and header fields and writes
// a response built once, so per request it allocates nothing and does little
// work beside one read and one write. It accepts what the benchmarked
// clients send: GET requests without a body, kept alive unless they ask to
// close. Anything else gets a 400 and a closed connection, so a client that
// sends something unexpected fails its benchmark.

// minimalResponses contains the server's two prebuilt responses.
type minimalResponses struct {
	ok, badRequest []byte
}

func newMinimalResponses(now time.Time) minimalResponses {
	date := now.UTC().Format(http.TimeFormat)
	ok := "HTTP/1.1 200 OK\r\n" +
		"Content-Length: " + strconv.Itoa(len(getStatusBody)) + "\r\n" +
		"Content-Type: " + contentTypeValue[0] + "\r\n" +
		"Date: " + date + "\r\n" +
		"\r\n" + string(getStatusBody)
	badRequest := "HTTP/1.1 400 Bad Request\r\n" +
		"Connection: close\r\n" +
		"Content-Length: 0\r\n" +
		"Date: " + date + "\r\n" +
		"\r\n"
	return minimalResponses{ok: []byte(ok), badRequest: []byte(badRequest)}
}

func (s *loopbackServer) acceptMinimal(responses minimalResponses) {
	defer s.wg.Done()
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveMinimal(conn, responses)
	}
}

func (s *loopbackServer) serveMinimal(conn net.Conn, responses minimalResponses) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
		s.wg.Done()
	}()
	reader := bufio.NewReaderSize(conn, 8<<10)
	for {
		ok, keepAlive, err := readMinimalRequest(reader, s.record)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			// A line longer than the buffer is a request the server
			// cannot read, so it is rejected like any other.
			rejectAndClose(conn, reader, responses.badRequest)
			return
		case err != nil:
			return
		case !ok:
			rejectAndClose(conn, reader, responses.badRequest)
			return
		}
		if _, err := conn.Write(responses.ok); err != nil || !keepAlive {
			return
		}
	}
}

// readMinimalRequest reads one request's line and header fields from
// reader and passes its target to record. It reports whether the request is
// valid and whether the connection stays open after the response, or an
// error when the request cannot be read whole, because the connection ended
// or a line is longer than reader's buffer.
func readMinimalRequest(reader *bufio.Reader, record func(target []byte)) (ok, keepAlive bool, err error) {
	line, err := reader.ReadSlice('\n')
	if err != nil {
		return false, false, err
	}
	method, rest, hasTarget := bytes.Cut(trimLineEnd(line), []byte(" "))
	target, version, hasVersion := bytes.Cut(rest, []byte(" "))
	ok = hasTarget && hasVersion && string(method) == http.MethodGet &&
		len(target) > 0 && target[0] == '/' && string(version) == "HTTP/1.1"
	if ok {
		record(target)
	}
	keepAlive = true
	for {
		line, err := reader.ReadSlice('\n')
		if err != nil {
			return false, false, err
		}
		field := trimLineEnd(line)
		if len(field) == 0 {
			return ok, keepAlive, nil
		}
		name, value, found := bytes.Cut(field, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case !found:
			ok = false
		case bytes.EqualFold(name, []byte("Content-Length")):
			ok = ok && string(value) == "0"
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			ok = false
		case bytes.EqualFold(name, []byte("Connection")):
			keepAlive = !bytes.EqualFold(value, []byte("close"))
		}
	}
}

// rejectAndClose writes response and then reads and drops what the client
// still sends, until it closes the connection or a second passes. Closing a
// connection with unread input resets it, which can discard the response
// before the client reads it.
func rejectAndClose(conn net.Conn, reader *bufio.Reader, response []byte) {
	_, _ = conn.Write(response)
	if tcpConn, ok := conn.(*net.TCPConn); ok {
		_ = tcpConn.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, reader)
}

func trimLineEnd(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

func TestReadMinimalRequest(t *testing.T) {
	tests := []struct {
		name          string
		request       string
		ok, keepAlive bool
		incomplete    bool
	}{
		{"GET", "GET /?Action=GetStatus HTTP/1.1\r\nHost: h\r\n\r\n", true, true, false},
		{"bare line ends", "GET / HTTP/1.1\nHost: h\n\n", true, true, false},
		{"empty body", "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true, true, false},
		{"connection close", "GET / HTTP/1.1\r\nconnection: Close\r\n\r\n", true, false, false},
		{"body", "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", false, true, false},
		{"chunked", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false, true, false},
		{"POST", "POST / HTTP/1.1\r\n\r\n", false, true, false},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", false, true, false},
		{"absolute target", "GET http://h/ HTTP/1.1\r\n\r\n", false, true, false},
		{"field without colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", false, true, false},
		{"ends in the fields", "GET / HTTP/1.1\r\nHost: h\r\n", false, false, true},
		{"ends in the line", "GET / HT", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var targets []string
			record := func(target []byte) { targets = append(targets, string(target)) }
			reader := bufio.NewReader(strings.NewReader(tt.request))
			ok, keepAlive, err := readMinimalRequest(reader, record)
			if incomplete := err != nil; incomplete != tt.incomplete {
				t.Errorf("error %v; expected one: %v", err, tt.incomplete)
			}
			if ok != tt.ok || keepAlive != tt.keepAlive {
				t.Errorf("ok, keepAlive = %v, %v; expected %v, %v", ok, keepAlive, tt.ok, tt.keepAlive)
			}
			if tt.ok && (len(targets) != 1 || !strings.HasPrefix(targets[0], "/")) {
				t.Errorf("recorded targets %q, expected one starting with /", targets)
			}
		})
	}
}

func TestMinimalServerRejectsBody(t *testing.T) {
	minimal, err := newLoopbackServer("minimal")
	if err != nil {
		t.Fatal(err)
	}
	defer minimal.Close()
	conn, err := net.Dial("tcp", minimal.host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	request := "POST / HTTP/1.1\r\nHost: " + minimal.host + "\r\nContent-Length: 2\r\n\r\n{}"
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	response.Body.Close()
	if response.StatusCode != http.StatusBadRequest || !response.Close {
		t.Errorf("status %d, close %v; expected 400 and a closed connection", response.StatusCode, response.Close)
	}
}

func TestMinimalServerRejectsLongLine(t *testing.T) {
	minimal, err := newLoopbackServer("minimal")
	if err != nil {
		t.Fatal(err)
	}
	defer minimal.Close()
	conn, err := net.Dial("tcp", minimal.host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	request := "GET /?q=" + strings.Repeat("a", 10<<10) + " HTTP/1.1\r\nHost: " + minimal.host + "\r\n\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	response.Body.Close()
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, expected 400", response.StatusCode)
	}
}
