// Package redact hides the secrets that URLs carry before a URL is shown:
// in logs, in API answers and in error strings. It depends on the standard
// library only.
//
// Two strengths:
//   - URL keeps what identifies a URL (scheme, user name, host, path, the
//     query's keys) and masks the password (a lone user name too: it may be
//     a token) and every query value. It suits
//     a URL whose path is no secret: a NATS server list, a config dump.
//   - Endpoint keeps only scheme://host and reduces any path to "/…". It
//     suits webhook URLs in error strings, log lines and records, where the
//     path itself often is the credential (https://hooks.example/T0/B1/s3cr3t).
package redact

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Mask replaces a secret.
const Mask = "REDACTED"

// URL returns raw with the userinfo password (or a lone user name, which
// may be a token) and each query value replaced by Mask. A comma-separated list of URLs (as nats.url takes) is redacted
// entry by entry. Text that does not parse as a URL is replaced whole: it
// might be a URL with a secret in it all the same.
func URL(raw string) string {
	return URLWith(raw, func(string) string { return Mask })
}

// URLWith is URL with each secret replaced by mask(secret); a fingerprint
// there keeps two redacted URLs comparable.
func URLWith(raw string, mask func(secret string) string) string {
	if raw == "" {
		return ""
	}
	if strings.Contains(raw, ",") {
		parts := strings.Split(raw, ",")
		for i, p := range parts {
			parts[i] = URLWith(strings.TrimSpace(p), mask)
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Mask
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), mask(pw))
		} else if name := u.User.Username(); name != "" {
			// A user without a password is often a token (nats://t0k@host
			// is NATS token auth).
			u.User = url.User(mask(name))
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = maskQuery(u.RawQuery, mask)
	}
	if u.Fragment != "" {
		u.Fragment = mask(u.Fragment)
	}
	return u.String()
}

// maskQuery masks each value and keeps the keys in their order.
func maskQuery(q string, mask func(string) string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case ok:
			parts[i] = k + "=" + url.QueryEscape(mask(v))
		case p != "":
			// A bare value (?s3cr3t) may be the secret itself.
			parts[i] = url.QueryEscape(mask(p))
		}
	}
	return strings.Join(parts, "&")
}

// Endpoint returns scheme://host of raw, with "/…" in place of a path
// other than "/" and nothing of its userinfo, query or fragment. Text that
// does not parse as a URL with a host becomes Mask.
func Endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Mask
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		out += "/…"
	}
	return out
}

// Error hides the URL that Go's HTTP client puts in its errors ("Post
// \"https://host/path?token=…\": …"), showing its Endpoint instead. An
// error that is a *url.Error is copied with the URL replaced, so errors.Is
// and errors.As still see everything beneath it. When the *url.Error is
// wrapped deeper, its wrappers already hold the URL in their text: the
// result then carries the rewritten text and unwraps to err.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: Endpoint(ue.URL), Err: ue.Err}
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	for _, form := range []string{strconv.Quote(ue.URL), ue.URL} {
		msg = strings.ReplaceAll(msg, form, strconv.Quote(Endpoint(ue.URL)))
	}
	return &rewritten{msg: msg, err: err}
}

type rewritten struct {
	msg string
	err error
}

func (r *rewritten) Error() string { return r.msg }
func (r *rewritten) Unwrap() error { return r.err }
