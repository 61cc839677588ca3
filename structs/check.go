package structs

import "fmt"

// Check statuses, as the client reports them.
const (
	// CheckPending is a check that has not given a result yet, or whose
	// pod's tasks are not all running.
	CheckPending  = "pending"
	CheckPassing  = "passing"
	CheckCritical = "critical"
)

// CheckStatus is the latest result of one service check of a pod.
type CheckStatus struct {
	// Name is the check's name: its own, or "<service>-<type>" (with
	// "-<n>" for the n-th check of a service past the first).
	Name string
	// Service is the service block the check belongs to.
	Service string
	Status  string
	// Output says what the check saw, in one line: "HTTP 200", "dial tcp
	// 127.0.0.1:8080: connect: connection refused", an exec check's
	// first line of output.
	Output string `json:",omitempty"`
	// Time is when the status last changed (unix nanos, client clock).
	Time int64 `json:",omitempty"`
}

// CheckName is the name a check of a service goes by: its own, else the
// service's name and the check's type, numbered past the first check.
func CheckName(svc *ServiceSpec, i int) string {
	c := svc.Checks[i]
	if c.Name != "" {
		return c.Name
	}
	if i == 0 {
		return fmt.Sprintf("%s-%s", svc.Name, c.Type)
	}
	return fmt.Sprintf("%s-%s-%d", svc.Name, c.Type, i)
}

// Describe is the check's state in one line: `check "web-http" critical:
// HTTP 503`.
func (c *CheckStatus) Describe() string {
	if c.Output == "" {
		return fmt.Sprintf("check %q %s", c.Name, c.Status)
	}
	return fmt.Sprintf("check %q %s: %s", c.Name, c.Status, c.Output)
}

// ChecksPassing reports whether every check passes (true for none).
func ChecksPassing(checks []*CheckStatus) bool {
	for _, c := range checks {
		if c.Status != CheckPassing {
			return false
		}
	}
	return true
}

// FailingCheck is the first critical check of the pod, nil when none is.
func (p *Pod) FailingCheck() *CheckStatus {
	for _, c := range p.Checks {
		if c.Status == CheckCritical {
			return c
		}
	}
	return nil
}
