package apisinks

// MergePatch applies an RFC 7396 JSON merge patch to a document decoded
// into plain values: objects merge key by key, null removes a key, and
// anything else (arrays included) replaces what was there.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	} else {
		cp := make(map[string]any, len(t))
		for k, v := range t {
			cp[k] = v
		}
		t = cp
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = MergePatch(t[k], v)
	}
	return t
}

// RestoreSecrets puts back, in a patched spec, the secrets whose
// fingerprints the client sent back: a value equal to the redacted value
// at the same place (or, in a list, anywhere in the list) means the
// stored value there.
func RestoreSecrets(patched, raw, redacted map[string]any) {
	for k, v := range patched {
		switch pv := v.(type) {
		case map[string]any:
			rm, _ := raw[k].(map[string]any)
			dm, _ := redacted[k].(map[string]any)
			if rm != nil && dm != nil {
				RestoreSecrets(pv, rm, dm)
			}
		case []any:
			rl, _ := raw[k].([]any)
			dl, _ := redacted[k].([]any)
			for i, item := range pv {
				s, ok := item.(string)
				if !ok {
					continue
				}
				for j := range dl {
					if j < len(rl) && dl[j] == s && rl[j] != s {
						pv[i] = rl[j]
						break
					}
				}
			}
		case string:
			if dv, ok := redacted[k].(string); ok && dv == pv {
				if rv, ok := raw[k].(string); ok {
					patched[k] = rv
				}
			}
		}
	}
}
