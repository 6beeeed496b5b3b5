package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkLoopbackExchange measures what every client pays beside its own
// code: one request written to the loopback server and its response read
// back, over one kept-alive TCP connection, as raw bytes with no parsing.
// The floor's time minus this one estimates net/http's client cost.
func BenchmarkLoopbackExchange(b *testing.B) {
	exchange, err := newRawExchange(presignedURL())
	if err != nil {
		b.Fatal(err)
	}
	defer exchange.Close()
	start := server.requests.Load()

	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPUMeter(b)
	for i := 0; i < b.N; i++ {
		if err := exchange.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	meter.report(b)
	server.expectRequests(b, start, b.N)
}

// rawExchange sends one fixed HTTP/1.1 request over a TCP connection and
// reads a response of the length the server gave the first time.
type rawExchange struct {
	conn     net.Conn
	request  []byte
	response []byte
}

// newRawExchange connects to the loopback server and learns the length of
// its response to a GET of signedURL. The server sends nothing more than
// that response, so every byte read is part of it.
func newRawExchange(signedURL string) (*rawExchange, error) {
	target, err := url.Parse(signedURL)
	if err != nil {
		return nil, err
	}
	if target.Host != server.host {
		return nil, fmt.Errorf("bench: sending to %q is not allowed; only %s is", target.Host, server.host)
	}
	conn, err := net.Dial("tcp", server.host)
	if err != nil {
		return nil, err
	}

	request := "GET " + target.RequestURI() + " HTTP/1.1\r\n" +
		"Host: " + server.host + "\r\n" +
		"User-Agent: Go-http-client/1.1\r\n" +
		"Accept-Encoding: gzip\r\n\r\n"
	if _, err := io.WriteString(conn, request); err != nil {
		conn.Close()
		return nil, err
	}

	counter := &countingReader{reader: conn}
	reader := bufio.NewReader(counter)
	response, err := http.ReadResponse(reader, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, response.Body)
		response.Body.Close()
	}
	if err == nil && (response.StatusCode != http.StatusOK || reader.Buffered() != 0) {
		err = fmt.Errorf("bench: the first exchange got status %d with %d bytes left over",
			response.StatusCode, reader.Buffered())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}

	return &rawExchange{conn: conn, request: []byte(request), response: make([]byte, counter.read)}, nil
}

// roundTrip writes the request and reads the whole response.
func (e *rawExchange) roundTrip() error {
	if _, err := e.conn.Write(e.request); err != nil {
		return err
	}
	_, err := io.ReadFull(e.conn, e.response)
	return err
}

func (e *rawExchange) Close() error { return e.conn.Close() }

// countingReader counts the bytes read through it.
type countingReader struct {
	reader io.Reader
	read   int
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.reader.Read(p)
	r.read += n
	return n, err
}
