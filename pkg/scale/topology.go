package scale

import "fmt"

// topology is who is who: endpoint i belongs to tenant tenant[i]
// (endpoints spread evenly, a tenant's endpoints contiguous, so every
// tenant mixes healthy and faulty ones), is named name[i] and answers at
// paths[i] as how[i] says.
type topology struct {
	name, paths []string
	tenant      []int
	how         []behaviour
	byTenant    [][]int // tenant → its endpoints
	created     []bool  // the create answered 201
}

func newTopology(endpoints, tenants int, faulty bool) *topology {
	t := &topology{name: make([]string, endpoints), paths: make([]string, endpoints),
		tenant: make([]int, endpoints), how: make([]behaviour, endpoints), byTenant: make([][]int, tenants),
		created: make([]bool, endpoints)}
	for i := range endpoints {
		k := i * tenants / endpoints
		n := len(t.byTenant[k])
		t.byTenant[k] = append(t.byTenant[k], i)
		t.tenant[i] = k
		t.name[i] = fmt.Sprintf("sc-t%d-%d", k, n)
		t.paths[i] = fmt.Sprintf("/e/t%d/%d", k, n)
		if faulty {
			switch {
			case i%10 == 3:
				t.how[i] = failing
			case i%10 == 7:
				t.how[i] = hanging
			case i%50 == 1:
				t.how[i] = paused
			}
		}
	}
	return t
}

func tenantID(k int) string { return fmt.Sprintf("t%d", k) }

// of lists the endpoints that behave as b.
func (t *topology) of(b behaviour) []int {
	var out []int
	for i, h := range t.how {
		if h == b {
			out = append(out, i)
		}
	}
	return out
}
