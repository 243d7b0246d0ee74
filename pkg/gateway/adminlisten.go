package gateway

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// listenAdmin binds the admin listener: HTTPS when admin.tls names a
// certificate (HTTP/1.1, TLS 1.2 at least), plain HTTP otherwise.
func listenAdmin(a config.Admin) (net.Listener, error) {
	var cert tls.Certificate
	if a.TLS.Enabled() {
		var err error
		if cert, err = tls.LoadX509KeyPair(a.TLS.CertFile, a.TLS.KeyFile); err != nil {
			return nil, fmt.Errorf("admin.tls: %w", err)
		}
	}
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	if !a.TLS.Enabled() {
		return ln, nil
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}), nil
}
