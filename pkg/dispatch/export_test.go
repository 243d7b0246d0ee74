package dispatch

// RunsStarted is how many runs a push-mode dispatcher has started, for
// tests that show runs ending and starting again.
func (d *Dispatcher) RunsStarted() uint64 {
	d.src.Lock()
	defer d.src.Unlock()
	if d.push == nil {
		return 0
	}
	return d.push.started
}
