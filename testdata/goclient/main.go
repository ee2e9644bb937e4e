// Command goclient drives Go's net/http client against the local test servers
// started by testdata/make-captures.sh, so that the captures show what a real Go
// client does on the wire. It uses only the standard library.
//
// It sends -n GET requests to -url (each with a distinct ?i=N query), -concurrency
// at a time, optionally -interval apart, reading and closing each body unless
// -drain=false. -keepalive=false gives every request its own connection, and
// -resume lets later connections resume an earlier TLS session. TLS secrets are
// appended to -keylog in the NSS key log format (tls.Config.KeyLogWriter). Every
// connection is dialled to -connect (keeping the URL's port), so the URL's host
// only names the server (SNI, Host, :authority).
//
// The client has a 30 s http.Client.Timeout (-timeout), as most real Go clients do. With
// it, a request that ends cancels the dial it had started, so when many requests
// start at once and all end up sharing one HTTP/2 connection, the other dials
// are abandoned wherever their TLS handshake was (FIN, then RST).
//
// On exit it prints one JSON line with the client's own view (dials, TLS
// handshakes, reused connections, distinct local ports that carried requests),
// which the capture figures are checked against.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"sync"
	"time"
)

type summary struct {
	Scenario        string         `json:"scenario"`
	URL             string         `json:"url"`
	Requests        int            `json:"requests"`
	Errors          int            `json:"errors"`
	Statuses        map[string]int `json:"statuses"`
	Protos          map[string]int `json:"protos"`
	Dials           int            `json:"dials"`
	TLSHandshakes   int            `json:"tls_handshakes"`
	TLSResumed      int            `json:"tls_resumed"`
	ReusedConns     int            `json:"reused_conns"`
	ConnsWithReqs   int            `json:"connections_with_requests"`
	RequestsPerConn map[string]int `json:"requests_per_local_port"`
	BodyBytesRead   int64          `json:"body_bytes_read"`
}

func main() {
	scenario := flag.String("scenario", "", "label printed in the summary")
	url := flag.String("url", "", "URL to GET (a ?i=N query is appended)")
	connect := flag.String("connect", "127.0.0.1", "address to dial instead of the URL's host (empty: the URL's host)")
	cacert := flag.String("cacert", "", "PEM file of the CA (or self-signed certificate) to trust")
	keylog := flag.String("keylog", "", "file to append TLS secrets to (NSS key log format)")
	n := flag.Int("n", 100, "number of requests")
	concurrency := flag.Int("concurrency", 1, "requests in flight at once (1: sequential)")
	drain := flag.Bool("drain", true, "read each response body to the end and close it")
	http1 := flag.Bool("http1", false, "disable HTTP/2 (TLSNextProto set to an empty map)")
	interval := flag.Duration("interval", 0, "pause between requests of one worker")
	keepalive := flag.Bool("keepalive", true, "reuse connections (false: Transport.DisableKeepAlives, one request per connection)")
	linger := flag.Duration("linger", 0, "wait this long after the last response before exiting, letting dials still in progress finish")
	timeout := flag.Duration("timeout", 30*time.Second, "http.Client.Timeout (0: none)")
	resume := flag.Bool("resume", false, "keep TLS sessions (tls.Config.ClientSessionCache) to resume them on new connections")
	flag.Parse()
	if *url == "" || *n < 1 || *concurrency < 1 {
		flag.Usage()
		os.Exit(2)
	}

	tlsConf := &tls.Config{}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fatal(fmt.Errorf("%s: no certificate found", *cacert))
		}
		tlsConf.RootCAs = pool
	}
	if *keylog != "" {
		f, err := os.OpenFile(*keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		tlsConf.KeyLogWriter = f
	}
	if *resume {
		tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(16)
	}

	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			if *connect != "" {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				addr = net.JoinHostPort(*connect, port)
			}
			return dialer.DialContext(ctx, "tcp4", addr)
		},
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 5 * time.Second,
		// A custom DialContext or TLSClientConfig turns off Go's automatic
		// HTTP/2; ask for it explicitly unless HTTP/1.1 is wanted.
		ForceAttemptHTTP2: !*http1,
		DisableKeepAlives: !*keepalive,
	}
	if *http1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	var mu sync.Mutex
	s := summary{
		Scenario:        *scenario,
		URL:             *url,
		Statuses:        map[string]int{},
		Protos:          map[string]int{},
		RequestsPerConn: map[string]int{},
	}
	trace := &httptrace.ClientTrace{
		ConnectStart: func(string, string) {
			mu.Lock()
			s.Dials++
			mu.Unlock()
		},
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			if err == nil {
				mu.Lock()
				s.TLSHandshakes++
				if cs.DidResume {
					s.TLSResumed++
				}
				mu.Unlock()
			}
		},
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			if info.Reused {
				s.ReusedConns++
			}
			s.RequestsPerConn[info.Conn.LocalAddr().String()]++
			mu.Unlock()
		},
	}

	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for i := range jobs {
				if !first && *interval > 0 {
					time.Sleep(*interval)
				}
				first = false
				status, proto, nbody, err := get(client, trace, fmt.Sprintf("%s?i=%d", *url, i), *drain)
				mu.Lock()
				s.Requests++
				if err != nil {
					s.Errors++
					fmt.Fprintln(os.Stderr, "request", i, "failed:", err)
				} else {
					s.Statuses[fmt.Sprint(status)]++
					s.Protos[proto]++
					s.BodyBytesRead += nbody
				}
				mu.Unlock()
			}
		}()
	}
	for i := 1; i <= *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if *linger > 0 {
		time.Sleep(*linger)
	}

	s.ConnsWithReqs = len(s.RequestsPerConn)
	out, err := json.Marshal(s)
	if err != nil {
		fatal(err)
	}
	fmt.Println(string(out))
	ports := make([]string, 0, len(s.RequestsPerConn))
	for p := range s.RequestsPerConn {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	for _, p := range ports {
		fmt.Printf("%s %d\n", p, s.RequestsPerConn[p])
	}
	if s.Errors > 0 {
		os.Exit(1)
	}
}

// get sends one GET. With drain the body is read to its end and closed, which
// lets the transport reuse the connection; without it the body is left alone,
// so its connection stays busy until the process exits.
func get(c *http.Client, trace *httptrace.ClientTrace, url string, drain bool) (int, string, int64, error) {
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	if err != nil {
		return 0, "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	var n int64
	if drain {
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, "", n, err
		}
	}
	return resp.StatusCode, resp.Proto, n, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "goclient:", err)
	os.Exit(2)
}
