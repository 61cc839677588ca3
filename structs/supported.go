package structs

import "fmt"

// Supported reports what a valid job asks for that these servers cannot
// run yet, as ValidationErrors naming each field ("type "function" is not
// supported yet"), or nil. A job is refused for it rather than accepted
// and left to do nothing: each check goes when the feature it names
// lands.
func (j *Job) Supported() error {
	if j == nil {
		return nil
	}
	v := &validator{path: fmt.Sprintf("job %q", j.Name)}
	if j.Type == JobTypeFunction {
		v.add("type", "%q is not supported yet", j.Type)
	}
	for _, g := range j.Groups {
		if g != nil {
			g.unsupported(v.at(fmt.Sprintf("group %q", g.Name)), v)
		}
	}
	return v.errs.ErrOrNil()
}

// unsupported adds the group's unsupported fields to top.
func (g *TaskGroup) unsupported(v, top *validator) {
	if n := g.Network; n != nil && n.Mode == "none" {
		v.add("network.mode", "%q is not supported yet; use \"bridge\" (the default) or \"host\"", n.Mode)
	}
	top.merge(v)
}
