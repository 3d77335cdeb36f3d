// A Beats-protocol (Lumberjack v2) client for the beats input's tests, built on
// github.com/elastic/go-lumber/client/v2 — the library libbeat's logstash output uses.
//
// It sends -windows windows of -events JSON events each and prints one JSON line per
// thing it sees on stdout: every ACK frame read ({"kind":"ack",...}, keep-alive ACKs
// included), each window done, and each failed attempt. A window whose ACK does not
// come (the connection closed or timed out) is resent on a new connection, as libbeat
// does, up to -retries attempts.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	v2 "github.com/elastic/go-lumber/client/v2"
)

type teeConn struct {
	net.Conn
	out *os.File
}

func (c teeConn) Write(b []byte) (int, error) {
	_, _ = c.out.Write(b)
	return c.Conn.Write(b)
}

func report(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5044", "server address")
	windows := flag.Int("windows", 1, "number of windows")
	events := flag.Int("events", 3, "events per window")
	compress := flag.Int("compress", 0, "zlib level (0: no compression)")
	timeout := flag.Duration("timeout", 30*time.Second, "read/write timeout (waiting for an ACK)")
	retries := flag.Int("retries", 5, "attempts per window")
	useTLS := flag.Bool("tls", false, "connect with TLS")
	ca := flag.String("ca", "", "CA certificate (PEM) of the server")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	record := flag.String("record", "", "also write every byte sent to this file")
	raw := flag.Bool("raw", false, "events without a message field")
	flag.Parse()

	var rec *os.File
	if *record != "" {
		f, err := os.Create(*record)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		rec = f
	}

	var tlsConf *tls.Config
	if *useTLS {
		tlsConf = &tls.Config{ServerName: "localhost"}
		if *ca != "" {
			pem, err := os.ReadFile(*ca)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tlsConf.RootCAs = pool
		}
		if *cert != "" {
			c, err := tls.LoadX509KeyPair(*cert, *key)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			tlsConf.Certificates = []tls.Certificate{c}
		}
	}

	dial := func(network, address string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		var c net.Conn
		var err error
		if tlsConf != nil {
			c, err = tls.DialWithDialer(&d, network, address, tlsConf)
		} else {
			c, err = d.Dial(network, address)
		}
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return teeConn{c, rec}, nil
		}
		return c, nil
	}

	var cl *v2.Client
	for w := 0; w < *windows; w++ {
		batch := make([]interface{}, 0, *events)
		for i := 0; i < *events; i++ {
			ev := map[string]interface{}{
				"@timestamp": time.Date(2024, 5, 1, 10, 0, w, i*1000000, time.UTC).Format("2006-01-02T15:04:05.000Z"),
				"@metadata": map[string]interface{}{
					"beat": "filebeat", "type": "_doc", "version": "8.13.0",
				},
				"host":  map[string]interface{}{"name": "gohost"},
				"agent": map[string]interface{}{"type": "filebeat", "hostname": "gohost"},
				"w":     w,
				"i":     i,
			}
			if !*raw {
				ev["message"] = fmt.Sprintf("window %d event %d", w, i)
			}
			batch = append(batch, ev)
		}
		for attempt := 1; ; attempt++ {
			err := func() error {
				if cl == nil {
					c, err := v2.DialWith(dial, *addr, v2.Timeout(*timeout), v2.CompressionLevel(*compress))
					if err != nil {
						return err
					}
					cl = c
				}
				if err := cl.Send(batch); err != nil {
					return err
				}
				for {
					seq, err := cl.ReceiveACK()
					if err != nil {
						return err
					}
					report(map[string]interface{}{"kind": "ack", "window": w, "seq": seq, "attempt": attempt})
					if seq >= uint32(len(batch)) {
						return nil
					}
				}
			}()
			if err == nil {
				report(map[string]interface{}{"kind": "done", "window": w, "attempt": attempt})
				break
			}
			report(map[string]interface{}{"kind": "error", "window": w, "attempt": attempt, "err": err.Error()})
			if cl != nil {
				_ = cl.Close()
				cl = nil
			}
			if attempt >= *retries {
				os.Exit(1)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if cl != nil {
		_ = cl.Close()
	}
}
