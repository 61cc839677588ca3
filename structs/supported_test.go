package structs

import (
	"strings"
	"testing"
)

func TestSupported(t *testing.T) {
	cases := []struct {
		name string
		edit func(j *Job)
		want []string
	}{
		{"supported", func(j *Job) {}, nil},
		{"function", func(j *Job) { j.Type = JobTypeFunction }, []string{`job "web": type "function" is not supported yet`}},
		{"scaling accepted", func(j *Job) { j.Groups[0].Scaling = &ScalingPolicy{Min: 1, Max: 2, CPUPercent: 50} }, nil},
		{"ingress accepted", func(j *Job) { j.Groups[0].Ingress = &IngressSpec{} }, nil},
		{"auto revert", func(j *Job) { j.Groups[0].Update = &UpdateStrategy{AutoRevert: true} }, nil},
		{"bridge", func(j *Job) { j.Groups[0].Network = &NetworkSpec{Mode: "bridge"} }, nil},
		{"no network", func(j *Job) { j.Groups[0].Network = &NetworkSpec{Mode: "none"} }, []string{
			`job "web" group "g": network.mode "none" is not supported yet; use "bridge" (the default) or "host"`}},
		{"host network", func(j *Job) { j.Groups[0].Network = &NetworkSpec{Mode: "host"} }, nil},
		{"node port, checks accepted", func(j *Job) {
			j.Groups[0].Services = []*ServiceSpec{{Name: "s", Type: ServiceTypeNodePort, Checks: []*ServiceCheck{{Type: "tcp"}}}}
		}, nil},
		{"plain service", func(j *Job) { j.Groups[0].Services = []*ServiceSpec{{Name: "s", Type: ServiceTypeClusterIP}} }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &Job{ObjectMeta: ObjectMeta{Name: "web"}, Type: JobTypeService, Groups: []*TaskGroup{{Name: "g", Count: 1}}}
			tc.edit(j)
			err := j.Supported()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("Supported() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
