package config

import (
	"fmt"
	"sort"
	"strings"
)

// API governs sinks created at run time through the admin API.
type API struct {
	// Allow lists what API-created sinks may use that reads the gateway's
	// files or borrows its identity or network position: tls_files,
	// credentials_file, endpoint, role_arn, private_networks. Empty: none.
	Allow []string `yaml:"allow"`
}

// The things API.Allow can allow.
const (
	AllowTLSFiles        = "tls_files"
	AllowCredentialsFile = "credentials_file"
	AllowEndpoint        = "endpoint"
	AllowRoleARN         = "role_arn"
	AllowPrivateNetworks = "private_networks"
)

var apiAllowable = []string{AllowTLSFiles, AllowCredentialsFile, AllowEndpoint, AllowRoleARN, AllowPrivateNetworks}

// Allows reports whether what is allowed.
func (a API) Allows(what string) bool {
	for _, x := range a.Allow {
		if x == what {
			return true
		}
	}
	return false
}

func (c *Config) validateAPI(p *parser) {
	for i, a := range c.API.Allow {
		ok := false
		for _, x := range apiAllowable {
			ok = ok || a == x
		}
		if !ok {
			p.at(fmt.Sprintf("api.allow[%d]", i), "%q: must be one of %s", a, strings.Join(apiAllowable, ", "))
		}
	}
	p.fileExists("admin.secrets_key_file", c.Admin.SecretsKeyFile)
}

// APIRestrictions reports the fields of a sink that an API-created sink
// may not set unless api.allow allows them: local files (tls.*_file,
// credentials files), the gateway's cloud identity (role_arn, a custom
// endpoint) and private networks, whatever their spelling: a field of
// that name, or a use the kind's driver declares (an option in a URL's
// query, a URL host in a private network). It is the one judgement of
// api.allow: on create and change, and on every record read back.
func (a API) APIRestrictions(s Sink) FieldErrors {
	var out FieldErrors
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			field := joinPath(prefix, k)
			switch v := m[k].(type) {
			case map[string]any:
				walk(field, v)
			case string:
				if v == "" {
					continue
				}
				switch {
				case k == "credentials_file" || k == "creds_file":
					out = append(out, a.refuse(field, AllowCredentialsFile, "reads a file on the gateway's host"))
				case strings.HasSuffix(k, "_file"):
					out = append(out, a.refuse(field, AllowTLSFiles, "reads a file on the gateway's host"))
				case k == "endpoint":
					out = append(out, a.refuse(field, AllowEndpoint, "sends with the gateway's credentials to an endpoint of the sink's choosing"))
				case k == "role_arn":
					out = append(out, a.refuse(field, AllowRoleARN, "assumes a role with the gateway's identity"))
				}
			case bool:
				if k == "allow_private_networks" && v {
					out = append(out, a.refuse(field, AllowPrivateNetworks, "reaches private networks from the gateway's position"))
				}
			}
		}
	}
	walk(s.Kind(), s.Dest.Map())
	// What names do not show (a URL's query, its host), the kind's driver
	// declares.
	k := s.Dest.kind
	if k == nil && DefaultKinds != nil {
		k = DefaultKinds.Kind(s.Kind())
	}
	if u, ok := k.(apiUser); ok && s.Dest.Config != nil {
		for _, use := range u.APIUses(s.Dest.Config) {
			out = append(out, a.refuse(joinPath(s.Kind(), use.Field), use.Allow, use.Why))
		}
	}
	var kept FieldErrors
	seen := map[FieldError]bool{}
	for _, e := range out {
		if e.Message != "" && !seen[e] {
			seen[e] = true
			kept = append(kept, e)
		}
	}
	return kept
}

func (a API) refuse(field, what, why string) FieldError {
	if a.Allows(what) {
		return FieldError{}
	}
	return FieldError{Field: field, Message: fmt.Sprintf("not allowed for sinks created through the API: it %s (the operator can allow it with api.allow: [%s])", why, what)}
}
